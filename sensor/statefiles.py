"""Files in the state directory: private (0600 in a 0700 directory) and written atomically.

The state holds device inventories and network maps of a hospital, so nothing in it is
for other local users. A write goes to a temporary file that is fsynced and renamed
over the old one, then the directory is fsynced: a kill -9 or a power cut leaves the
old or the new content, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def ensure_dir(path: Path) -> None:
    """Create ``path`` (and its parents) as 0700 when missing; an existing directory is left as it is."""
    if not path.is_dir():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; an existing one is made 0600."""
    ensure_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    dfd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Replace ``path`` with ``data`` (0600), durably; on failure the old content stays.

    ``data`` may come in pieces (written as they come), so a large file is never whole in memory.
    """
    ensure_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb", closefd=True) as fh:
            if isinstance(data, bytes):
                fh.write(data)
            else:
                for piece in data:
                    fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def is_disk_full(e: BaseException) -> bool:
    """Whether ``e`` says the file system has no room (or no inodes, or the quota is used up)."""
    if isinstance(e, OSError):
        return e.errno in (errno.ENOSPC, errno.EDQUOT)
    return getattr(e, "sqlite_errorcode", None) == 13  # SQLITE_FULL


def is_write_failure(e: BaseException) -> bool:
    """A full disk, or a write SQLite could not do: on a full disk a write or truncate of the WAL or its
    index comes back as SQLITE_IOERR_WRITE/SHMSIZE/TRUNCATE/FSYNC and the like (10 + extended code)."""
    code = getattr(e, "sqlite_errorcode", None)
    return is_disk_full(e) or (isinstance(code, int) and code & 0xFF == 10)
