"""Reading a user's input file with a size limit, so that /dev/zero or a huge file is an error, not OOM."""

from __future__ import annotations

import sys

from sensor.errors import SensorError


class InputError(SensorError):
    """An input file cannot be read or is larger than the command accepts; the message names it."""

    exit_code = 1


def read_limited(name: str, limit: int) -> bytes:
    """The bytes of file ``name`` (``-``: standard input); InputError if unreadable or over ``limit`` bytes."""
    try:
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(name, "rb") as fh:
                data = fh.read(limit + 1)
    except OSError as e:
        raise InputError(f"{name}: cannot be read: {e.strerror or e}") from None
    if len(data) > limit:
        raise InputError(f"{name}: larger than {limit:,} bytes, the most this command reads")
    return data
