"""Secrets are never inline: ``*_file`` keys name files, read here; a file others can read is refused."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from sensor.errors import SecretError

# --- secrets ---------------------------------------------------------------

SECRET_KEYS = frozenset({"password_file", "community_file", "auth_key_file", "priv_key_file", "key_file",
                         "enable_password_file"})
_INLINE_SECRETS = {"password", "community", "auth_key", "priv_key", "secret", "key"}


def path_problem(path: str, e: OSError) -> str:
    """What an OSError on ``path`` means to the person who wrote the path."""
    if e.errno == errno.ELOOP:
        return f"{path}: a symbolic link on this path loops (or there are too many): fix the link"
    if e.errno == errno.ENOTDIR:
        return f"{path}: a part of this path is a file, not a directory: fix the path"
    if e.errno == errno.ENAMETOOLONG:
        return f"{path}: the path is too long"
    return f"{path} cannot be read: {e.strerror or e}"


def check_secret_file(path: str) -> None:
    """Refuse a secret file that is missing, unreadable, or readable by group or others."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise SecretError(f"{path} does not exist: create it with the secret as its only content") from None
    except PermissionError:
        raise SecretError(f"{path} cannot be read: check the directory permissions") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise SecretError(path_problem(path, e) if isinstance(e, OSError) else f"{path!r} is not a path") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretError(f"{path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SecretError(
            f"{path} is readable by group or others (mode {mode:04o}): "
            f"run `chmod 600 {path}` and make it owned by the user the sensor runs as"
        )
    if not os.access(p, os.R_OK):
        raise SecretError(f"{path} cannot be read by this user (uid {os.getuid()}): fix its owner")


def read_secret(path: str) -> str:
    """Read a secret file (checked again at use: files can change after check-config).

    Every failure is a SecretError: a secret gone bad at run time fails its one source, never the process.
    """
    check_secret_file(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SecretError(path_problem(path, e)) from None
    try:
        return data.decode("utf-8").strip("\r\n")
    except UnicodeDecodeError as e:
        # The position only: the bytes are the secret.
        raise SecretError(f"{path} is not UTF-8 text (invalid byte at offset {e.start}): "
                          "write the secret as UTF-8 text, as the only content of the file") from None
