"""How the C allocator serves the long-running sensor: few arenas.

glibc gives every thread that allocates its own malloc arena (up to 8 per core), and an arena
keeps the high-water mark of what its thread once held. The sensor's helper threads (the
correlation state save, the outbox's SQLite commits and reads, asyncio.to_thread) each touch
tens of MB once per correlation at campus size, so each kept its own: bench/campus.py measured
131 MB peak RSS with the default arenas and 116 MB with two (200 switches, 10,000 devices).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before any thread starts); False where there is no glibc mallopt.

    ``MALLOC_ARENA_MAX`` in the environment, when set, is left to decide.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): their allocators differ
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
