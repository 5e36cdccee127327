"""Where facts came from, said in a poll's notes (facts keep their structs).

Pure and dependency-free, so the correlator can read it without importing collectors' I/O.
"""

from __future__ import annotations

import re

TOLERANT_NOTE = "tolerant parser"
_TOLERANT = re.compile(r"^tolerant parser read (\w+) ")


def tolerant_note(table: str, command: str, text: str) -> str:
    """The note that says rows of ``table`` were read by the tolerant parser (lower confidence).

    The correlator finds it with :func:`tolerant_tables`; facts keep their structs."""
    return f"{TOLERANT_NOTE} read {table} from {command!r}: {text}"


def tolerant_tables(notes: tuple[str, ...] | list[str]) -> frozenset[str]:
    """The tables a poll's notes say the tolerant parser read (some rows at least)."""
    return frozenset(m.group(1) for n in notes if (m := _TOLERANT.match(n)))
