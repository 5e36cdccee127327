"""One window of flows, summed per exporter and (src, dst, sport, dport, proto): the hot aggregation.

Per record this costs one tuple and one dict update; nothing about devices is
known here (the sensor resolves the few thousand distinct keys once per window).
Each exporting process, (exporter address, protocol version), keeps its own sums,
so that a flow exported by several of them can be counted once later (the sensor
picks the exporter nearest to the device). Memory is bounded: past ``max_keys``
distinct (exporter, flow) keys, records are counted as dropped
(``overflow_records``) rather than stored.

Counters renormalized by a sampling rate are clamped to 64 bits: no flow carries
2^64 octets in one record, so more is an exporter error (a bogus counter or rate),
counted in ``clamped_records``.
"""

from __future__ import annotations

from typing import Any

from collectors.flows.decode import Batch

FlowKey = tuple[bytes, bytes, int, int, int]
Source = tuple[str, int]  # (exporter address, version: 5, 9 or 10)
U64 = (1 << 64) - 1


def source_label(source: Source) -> str:
    """ "192.0.2.1 v9", "192.0.2.1 ipfix": how conversations name the exporters that saw them."""
    addr, version = source
    return f"{addr} {'ipfix' if version == 10 else f'v{version}'}"


class FlowTable:
    __slots__ = ("clamped_records", "l2", "max_keys", "overflow_records", "records", "size", "sources")

    def __init__(self, max_keys: int = 200_000) -> None:
        self.max_keys = max_keys
        # source -> key -> [bytes, packets, records, (rate, where the rate came from)]; counters renormalized
        self.sources: dict[Source, dict[FlowKey, list[Any]]] = {}
        self.l2: dict[FlowKey, tuple[Any, ...]] = {}  # key -> (src_mac, dst_mac, vlan), first seen
        self.size = 0
        self.overflow_records = 0
        self.clamped_records = 0
        self.records = 0

    def __len__(self) -> int:
        return self.size

    @property
    def rows(self) -> dict[FlowKey, list[int]]:
        """[bytes, packets, records] per flow, summed over every exporter (a flow exported twice counts twice)."""
        out: dict[FlowKey, list[int]] = {}
        for rows in self.sources.values():
            for key, (nbytes, npkts, nrec, _rate) in rows.items():
                v = out.get(key)
                if v is None:
                    out[key] = [nbytes, npkts, nrec]
                else:
                    v[0] += nbytes
                    v[1] += npkts
                    v[2] += nrec
        return out

    def add(self, batch: Batch) -> None:
        src = (batch.exporter, batch.version)
        rows = self.sources.get(src)
        if rows is None:
            rows = self.sources[src] = {}
        cap = self.max_keys
        size = self.size
        rate = batch.rate
        info = (rate, batch.rate_from)
        n = 0
        dropped = 0
        get = rows.get
        if rate == 1:
            for src_ip, dst, sport, dport, proto, nbytes, npkts in batch.core():
                key = (src_ip, dst, sport, dport, proto)
                v = get(key)
                if v is not None:
                    v[0] += nbytes
                    v[1] += npkts
                    v[2] += 1
                elif size < cap:
                    rows[key] = [nbytes, npkts, 1, info]
                    size += 1
                else:
                    dropped += 1
                n += 1
        else:
            clamped = 0
            for src_ip, dst, sport, dport, proto, nbytes, npkts in batch.core():
                key = (src_ip, dst, sport, dport, proto)
                b = nbytes * rate
                p = npkts * rate
                if b > U64 or p > U64:
                    clamped += 1
                    b, p = min(b, U64), min(p, U64)
                v = get(key)
                if v is not None:
                    v[0] += b
                    v[1] += p
                    v[2] += 1
                elif size < cap:
                    rows[key] = [b, p, 1, info]
                    size += 1
                else:
                    dropped += 1
                n += 1
            self.clamped_records += clamped
        self.size = size
        self.records += n
        self.overflow_records += dropped
        l2 = batch.l2()
        if l2 is not None:
            seen = self.l2
            for (src_ip, dst, sport, dport, proto, _b, _p), macs in zip(batch.core(), l2, strict=False):
                key = (src_ip, dst, sport, dport, proto)
                if key not in seen and key in rows:
                    seen[key] = macs
