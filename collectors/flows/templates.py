"""Templates compiled once into ``struct.Struct`` plans.

A template is the list of (element id, length, enterprise number) an exporter sent.
It is compiled when it arrives, never per record:

- ``full``: one ``struct.Struct`` for the whole record (fixed-length templates):
  unsigned fields of 1, 2, 4 or 8 octets come out as ``int``, everything else as
  ``bytes``. Used by the decode command and to turn records into facts.
- ``core``: a second ``struct.Struct`` that skips (pads over) every field the
  aggregator does not need, plus an ``operator.itemgetter`` that orders the rest
  as :data:`CORE` (src, dst, sport, dport, proto, bytes, packets). Decoding a data
  set is then ``map(getter, core.iter_unpack(data))``: no Python code runs per
  field or per record.

Zero-length fields (sent by real NetFlow v9 and IPFIX exporters for an element
they have nothing for) occupy no octets: they are kept in the template, never play
a role, and are left out of rendered records.

Variable-length templates (RFC 7011 section 7: a 1-octet length, or 255 then a
2-octet length) cannot use one struct; they take a slower, fully bounds-checked
path. Fields of non-standard size (RFC 7011 reduced-size encoding, e.g. a 3-octet
counter) come out as bytes and are fixed up per record, also a slower path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from operator import add, itemgetter
from typing import Any, NamedTuple

VARLEN = 0xFFFF
MAX_FIELDS = 512
MAX_RECORD_LEN = 65535
SCOPE_PEN = 1 << 32  # pseudo enterprise number marking NetFlow v9 scope fields


class Field(NamedTuple):
    ie: int
    length: int  # VARLEN for a variable-length field
    pen: int = 0  # enterprise number, 0 for IANA elements


# Role -> candidate IANA elements, in order of preference.
ROLES: dict[str, tuple[int, ...]] = {
    "src": (8, 27),
    "dst": (12, 28),
    "sport": (7, 180, 182),
    "dport": (11, 181, 183),
    "proto": (4,),
    "bytes": (1, 85, 23),
    "packets": (2, 86, 24),
}
CORE = ("src", "dst", "sport", "dport", "proto", "bytes", "packets")
CORE_DEFAULTS: dict[str, Any] = {"src": b"", "dst": b"", "sport": 0, "dport": 0, "proto": 0, "bytes": 0, "packets": 0}
L2_ROLES: dict[str, tuple[int, ...]] = {
    "src_mac": (56, 81),
    "dst_mac": (80, 57),
    "vlan": (58, 243, 59, 245, 254),
}
ADDRESS_IES = frozenset({8, 12, 15, 18, 27, 28, 62, 63, 130, 131, 225, 226})
MAC_IES = frozenset({56, 57, 80, 81})
_INT = {1: "B", 2: "H", 4: "I", 8: "Q"}

CoreRecord = tuple[bytes, bytes, int, int, int, int, int]


def _code(f: Field) -> str:
    """struct code for one fixed-length field in the full layout."""
    if f.pen == 0 and f.ie in ADDRESS_IES | MAC_IES:
        return f"{f.length}s"
    if f.pen and f.pen != SCOPE_PEN:  # enterprise-specific: opaque octets
        return f"{f.length}s"
    return _INT.get(f.length, f"{f.length}s")


def _is_numeric(f: Field) -> bool:
    if f.pen and f.pen != SCOPE_PEN:
        return False
    return not (f.pen == 0 and f.ie in ADDRESS_IES | MAC_IES)


_ALL_ROLES = (*ROLES.items(), *L2_ROLES.items(), ("sampler", (48, 302)), ("record_rate", (34, 50)))


def _fits(role: str, length: int) -> bool:
    """Whether a field of ``length`` octets can play ``role``."""
    if role in ("src", "dst"):
        return length in (4, 16)
    if role in ("src_mac", "dst_mac"):
        return length == 6
    return length <= 8


def _to_int(v: Any) -> int:
    return int.from_bytes(v, "big") if isinstance(v, bytes) else int(v)


class Template:
    """One compiled (options) template."""

    __slots__ = (
        "core",
        "core_defaults",
        "core_fix",
        "core_get",
        "fields",
        "fixed",
        "full",
        "full_core_idx",
        "is_options",
        "l2_get",
        "min_len",
        "names",
        "record_len",
        "role_index",
        "scope_count",
        "split",
        "tid",
        "used",
    )

    def __init__(self, tid: int, fields: Iterable[Field], scope_count: int = 0) -> None:
        self.tid = tid
        self.used = 0  # the decoder's datagram count when data last came for it; 0: never
        self.fields: tuple[Field, ...] = tuple(fields)
        self.scope_count = scope_count
        self.is_options = scope_count > 0  # an attribute, not a property: read per data set
        self.fixed = all(f.length != VARLEN for f in self.fields)
        self.min_len = sum(1 if f.length == VARLEN else f.length for f in self.fields)
        self.record_len = self.min_len if self.fixed else 0
        self.full: struct.Struct | None = None
        if self.fixed:
            self.full = struct.Struct("!" + "".join(_code(f) for f in self.fields))
        # Which field index plays each role (first match in preference order).
        self.role_index: dict[str, int] = {}
        by_ie: dict[int, list[int]] = {}
        for i, f in enumerate(self.fields):
            if not f.pen and f.length != VARLEN and f.length:
                by_ie.setdefault(f.ie, []).append(i)
        for role, ies in _ALL_ROLES:
            idx = next((i for ie in ies for i in by_ie.get(ie, ()) if _fits(role, self.fields[i].length)), None)
            if idx is not None:
                self.role_index[role] = idx
        # How data records are split by sampling rate: by the rate each carries, or by sampler id.
        self.split = next((r for r in ("record_rate", "sampler") if r in self.role_index), None)
        self._compile_core()
        l2 = [self.role_index.get(r) for r in L2_ROLES]
        self.l2_get: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None
        if any(i is not None for i in l2):
            # Over the full layout; a missing role reads a None appended at the end.
            n = len(self.fields)
            self.l2_get = itemgetter(*(n if i is None else i for i in l2))

    def _compile_core(self) -> None:
        used = sorted(self.role_index[r] for r in CORE if r in self.role_index)
        pos_of = {idx: p for p, idx in enumerate(used)}
        missing = [r for r in CORE if r not in self.role_index]
        positions = []
        for r in CORE:
            if r in self.role_index:
                positions.append(pos_of[self.role_index[r]])
            else:
                positions.append(len(used) + missing.index(r))
        self.core_get: Callable[[tuple[Any, ...]], CoreRecord] = itemgetter(*positions)
        self.core_defaults: tuple[Any, ...] | None = tuple(CORE_DEFAULTS[r] for r in missing) or None
        # Numeric roles with a non-standard length come out as bytes: fix per record.
        self.core_fix = tuple(
            CORE.index(r)
            for r in CORE
            if r in self.role_index
            and _is_numeric(self.fields[self.role_index[r]])
            and self.fields[self.role_index[r]].length not in _INT
        )
        full_positions = [self.role_index.get(r, -1) for r in CORE]
        self.full_core_idx = tuple(full_positions)
        self.core: struct.Struct | None = None
        if self.fixed:
            parts = []
            for i, f in enumerate(self.fields):
                parts.append(_code(f) if i in pos_of else f"{f.length}x")
            self.core = struct.Struct("!" + "".join(parts))

    @property
    def has_flow_keys(self) -> bool:
        return "src" in self.role_index and "dst" in self.role_index

    # -- decoding -------------------------------------------------------
    def core_records(self, data: bytes | memoryview) -> Iterator[CoreRecord]:
        """(src, dst, sport, dport, proto, bytes, packets) per record of a fixed template.

        ``data`` must be a whole number of records long (the decoder slices it).
        """
        assert self.core is not None
        it: Iterator[Any] = self.core.iter_unpack(data)
        if self.core_defaults is not None:
            it = map(add, it, repeat(self.core_defaults))
        out: Iterator[CoreRecord] = map(self.core_get, it)
        if self.core_fix:
            out = map(self._fix, out)
        return out

    def _fix(self, rec: CoreRecord) -> CoreRecord:
        r = list(rec)
        for i in self.core_fix:
            r[i] = _to_int(r[i])
        return tuple(r)  # type: ignore[return-value]

    def core_from_rows(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[CoreRecord]:
        """Core records from full-layout rows (variable-length templates)."""
        idx = self.full_core_idx
        for row in rows:
            rec = []
            for role, i in zip(CORE, idx, strict=True):
                if i < 0:
                    rec.append(CORE_DEFAULTS[role])
                elif role in ("src", "dst"):
                    rec.append(row[i])
                else:
                    rec.append(_to_int(row[i]))
            yield tuple(rec)

    def rows(self, data: bytes | memoryview) -> list[tuple[Any, ...]]:
        """Full-layout rows of a fixed template (``data`` a whole number of records)."""
        assert self.full is not None
        return list(self.full.iter_unpack(data))

    def parse_varlen(self, data: bytes | memoryview, limit: int) -> tuple[list[tuple[Any, ...]], bool]:
        """Rows of a variable-length template; (rows, ok). Every read is bounds checked.

        Trailing bytes shorter than a minimal record are padding. A record that
        claims more bytes than the set holds makes ``ok`` False.
        """
        rows: list[tuple[Any, ...]] = []
        pos, end = 0, len(data)
        fields = self.fields
        while end - pos >= self.min_len and len(rows) < limit:
            row: list[Any] = []
            for f in fields:
                n = f.length
                if n == VARLEN:
                    if pos >= end:
                        return rows, False
                    n = data[pos]
                    pos += 1
                    if n == 255:
                        if pos + 2 > end:
                            return rows, False
                        n = (data[pos] << 8) | data[pos + 1]
                        pos += 2
                    if pos + n > end:
                        return rows, False
                    row.append(bytes(data[pos : pos + n]))
                else:
                    if pos + n > end:
                        return rows, False
                    raw = bytes(data[pos : pos + n])
                    if _is_numeric(f) and n in _INT:
                        row.append(int.from_bytes(raw, "big"))
                    else:
                        row.append(raw)
                pos += n
            rows.append(tuple(row))
            if self.min_len == 0:  # pragma: no cover - rejected when the template is parsed
                break
        return rows, True

    def spec(self) -> list[list[int]]:
        """What persisting the template needs: [[ie, length, pen], ...]."""
        return [[f.ie, f.length, f.pen] for f in self.fields]


# NetFlow v5's fixed record, expressed as an IPFIX template (48 octets).
V5_FIELDS = (
    Field(8, 4), Field(12, 4), Field(15, 4), Field(10, 2), Field(14, 2),
    Field(2, 4), Field(1, 4), Field(22, 4), Field(21, 4), Field(7, 2), Field(11, 2),
    Field(210, 1), Field(6, 1), Field(4, 1), Field(5, 1), Field(16, 2), Field(17, 2),
    Field(9, 1), Field(13, 1), Field(210, 2),
)  # fmt: skip
V5_TEMPLATE = Template(5, V5_FIELDS)
assert V5_TEMPLATE.record_len == 48
