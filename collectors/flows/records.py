"""Turning batches into readable records: JSON-ready dicts with IANA names, and FlowRecord facts.

This is the slow, complete path (one Python loop per field), for ``sensor flows
decode``, tests and the few records that need it; aggregation never comes here.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from collectors.facts import FlowRecord
from collectors.flows import ie as iana
from collectors.flows.decode import Batch
from collectors.flows.table import U64
from collectors.flows.templates import SCOPE_PEN, VARLEN

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def ip_text(raw: bytes) -> str:
    if len(raw) == 4:
        return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"
    if len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    return raw.hex()


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _int(v: Any) -> int:
    return int.from_bytes(v, "big") if isinstance(v, bytes) else int(v)


def render(ie: int, pen: int, length: int, value: Any) -> Any:
    """One field value as JSON: numbers, dotted/colon addresses, text, or hex."""
    typ = iana.type_of(ie, pen)
    if typ in (iana.V4, iana.V6) and isinstance(value, bytes) and len(value) in (4, 16):
        return ip_text(value)
    if typ == iana.MAC and isinstance(value, bytes) and len(value) == 6:
        return mac_text(value)
    if typ == iana.STR and isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("utf-8", "replace")
    if typ in (iana.U, iana.S, iana.SEC, iana.MS, iana.US, iana.NS) and (
        isinstance(value, int) or (isinstance(value, bytes) and 0 < len(value) <= 8 and length != VARLEN)
    ):
        n = _int(value)
        if typ == iana.S:
            bits = 8 * (len(value) if isinstance(value, bytes) else length)
            if n >= 1 << (bits - 1):
                n -= 1 << bits
        return n
    if isinstance(value, int):
        return value
    return value.hex() if isinstance(value, bytes) else value


def batch_dicts(batch: Batch) -> list[dict[str, Any]]:
    """Every record of ``batch`` as {IANA name: value}; a repeated element gets a ``#2`` suffix."""
    tpl = batch.template
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, f in enumerate(tpl.fields):
        if tpl.is_options and i < tpl.scope_count and f.pen == SCOPE_PEN:
            name = {1: "scopeSystem", 2: "scopeInterface", 3: "scopeLineCard", 4: "scopeCache",
                    5: "scopeTemplate"}.get(f.ie, f"scope{f.ie}")
        else:
            name = iana.name_of(f.ie, f.pen)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    out = []
    # paddingOctets, and zero-length fields (the exporter had nothing to say)
    skip = {i for i, f in enumerate(tpl.fields) if (f.pen == 0 and f.ie == 210) or f.length == 0}
    for row in batch.rows():
        rec: dict[str, Any] = {}
        for i, (name, f, v) in enumerate(zip(names, tpl.fields, row, strict=True)):
            if i in skip:
                continue
            rec[name] = render(f.ie, 0 if f.pen == SCOPE_PEN else f.pen, f.length, v)
        out.append(rec)
    return out


def _times(batch: Batch, row: tuple[Any, ...]) -> tuple[float, float]:
    """Absolute start and end (Unix seconds) from whatever time elements the template has."""
    idx = {f.ie: i for i, f in reversed(list(enumerate(batch.template.fields))) if f.pen == 0 and f.length}

    def get(ie: int) -> int | None:
        i = idx.get(ie)
        return None if i is None else _int(row[i])

    export = float(batch.export_time)
    pairs: list[tuple[int, int, Any]] = [  # most precise first
        (156, 157, lambda v: (v >> 32) - NTP_EPOCH_OFFSET + (v & 0xFFFFFFFF) / 2**32),
        (154, 155, lambda v: (v >> 32) - NTP_EPOCH_OFFSET + (v & 0xFFFFFFFF) / 2**32),
        (152, 153, lambda v: v / 1000.0),
        (150, 151, lambda v: float(v)),
        (158, 159, lambda v: export - v / 1e6),
    ]
    for s_ie, e_ie, conv in pairs:
        s, e = get(s_ie), get(e_ie)
        if s is not None or e is not None:
            try:  # a field of a non-standard length can hold any number: never trust it
                start = float(conv(s if s is not None else e))
                end = float(conv(e if e is not None else s))
            except (OverflowError, ValueError):
                return export, export
            if not (0.0 <= start < 1e10 and 0.0 <= end < 1e10):  # not a plausible Unix time
                return export, export
            return start, end
    s, e = get(22), get(21)
    if s is not None or e is not None:
        s = s if s is not None else e
        e = e if e is not None else s
        assert s is not None and e is not None
        try:
            if batch.uptime_ms is not None:  # v5/v9: relative to the header's sysUptime
                base = export - batch.uptime_ms / 1000.0
                return base + s / 1000.0, base + e / 1000.0
            if batch.sys_init_ms is not None:  # IPFIX: relative to systemInitTimeMilliseconds
                return (batch.sys_init_ms + s) / 1000.0, (batch.sys_init_ms + e) / 1000.0
        except (OverflowError, ValueError):
            return export, export
    return export, export


def flow_records(batch: Batch) -> list[FlowRecord]:
    """FlowRecord facts (counters scaled by the sampling rate); records without addresses are skipped."""
    out = []
    tpl = batch.template
    l2 = batch.l2()
    rows = batch.rows()
    l2_rows = list(l2) if l2 is not None else [(None, None, None)] * len(rows)
    for core, row, (smac, dmac, vlan) in zip(batch.core(), rows, l2_rows, strict=True):
        src, dst, sport, dport, proto, nbytes, npkts = core
        if not src or not dst:
            continue
        start, end = _times(batch, row)
        out.append(FlowRecord(
            exporter=batch.exporter, start=start, end=end, src=ip_text(src), dst=ip_text(dst),
            sport=sport, dport=dport, proto=proto, bytes=min(nbytes * batch.rate, U64),
            packets=min(npkts * batch.rate, U64),
            src_mac=mac_text(smac) if isinstance(smac, bytes) else None,
            dst_mac=mac_text(dmac) if isinstance(dmac, bytes) else None,
            vlan=_int(vlan) if vlan is not None else None,
        ))
    del tpl
    return out
