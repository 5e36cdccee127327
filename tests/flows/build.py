"""Build NetFlow v9 / IPFIX datagrams for tests (templates, options, data sets)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

FieldSpec = tuple[int, int] | tuple[int, int, int]  # (ie, length[, pen])


def _set(set_id: int, body: bytes, pad_to: int = 4) -> bytes:
    pad = (-(len(body) + 4)) % pad_to
    body += b"\x00" * pad
    return struct.pack("!HH", set_id, len(body) + 4) + body


def ipfix_template_record(tid: int, fields: Sequence[FieldSpec], scope: int = 0) -> bytes:
    out = struct.pack("!HH", tid, len(fields))
    if scope:
        out += struct.pack("!H", scope)
    for f in fields:
        ie, ln = f[0], f[1]
        pen = f[2] if len(f) > 2 else 0  # type: ignore[misc]
        if pen:
            out += struct.pack("!HHI", ie | 0x8000, ln, pen)
        else:
            out += struct.pack("!HH", ie, ln)
    return out


def ipfix_template_set(*records: bytes, options: bool = False) -> bytes:
    return _set(3 if options else 2, b"".join(records), pad_to=1)


def data_set(tid: int, *records: bytes) -> bytes:
    return _set(tid, b"".join(records))


def ipfix(domain: int, *sets: bytes, export_time: int = 1_700_000_000, seq: int = 0) -> bytes:
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), export_time, seq, domain) + body


def v9_template_set(tid: int, fields: Sequence[tuple[int, int]]) -> bytes:
    body = struct.pack("!HH", tid, len(fields)) + b"".join(struct.pack("!HH", ie, ln) for ie, ln in fields)
    return _set(0, body, pad_to=1)


def v9_options_template_set(tid: int, scope: Sequence[tuple[int, int]], options: Sequence[tuple[int, int]]) -> bytes:
    body = struct.pack("!HHH", tid, 4 * len(scope), 4 * len(options))
    body += b"".join(struct.pack("!HH", ie, ln) for ie, ln in [*scope, *options])
    return _set(1, body)


def v9(source_id: int, *sets: bytes, uptime: int = 100_000, secs: int = 1_700_000_000, count: int = 0) -> bytes:
    return struct.pack("!HHIIII", 9, count, uptime, secs, 0, source_id) + b"".join(sets)


def varlen(value: bytes, long: bool = False) -> bytes:
    if long or len(value) >= 255:
        return b"\xff" + struct.pack("!H", len(value)) + value
    return bytes([len(value)]) + value


# A small IPv4 flow template: src, dst, sport, dport, proto, bytes(8), packets(4)
FLOW_FIELDS: list[FieldSpec] = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 4)]


def flow_record(src: str, dst: str, sport: int, dport: int, proto: int, nbytes: int, npkts: int) -> bytes:
    import ipaddress

    return (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
            + struct.pack("!HHBQI", sport, dport, proto, nbytes, npkts))


def v5(*records: bytes, uptime: int = 100_000, secs: int = 1_700_000_000, sampling: int = 0) -> bytes:
    """A NetFlow v5 datagram; ``records`` from :func:`v5_record`."""
    return struct.pack("!HHIIIIBBH", 5, len(records), uptime, secs, 0, 0, 0, 0, sampling) + b"".join(records)


def v5_record(src: str, dst: str, sport: int, dport: int, proto: int, nbytes: int, npkts: int) -> bytes:
    import ipaddress

    return (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed + bytes(4)
            + struct.pack("!HHIIIIHHBBBBHHBBH", 1, 2, npkts, nbytes, 90_000, 99_000, sport, dport, 0, 0x18, proto,
                          0, 0, 0, 24, 24, 0))
