"""One window of flows, summed per (src, dst, sport, dport, proto): the hot aggregation.

Per record this costs one tuple and one dict update; nothing about devices is
known here (the sensor resolves the few thousand distinct keys once per window).
Memory is bounded: past ``max_keys`` distinct keys, records are counted as
dropped (``overflow_records``) rather than stored.
"""

from __future__ import annotations

from typing import Any

from collectors.flows.decode import Batch

FlowKey = tuple[bytes, bytes, int, int, int]


class FlowTable:
    __slots__ = ("l2", "max_keys", "overflow_records", "records", "rows")

    def __init__(self, max_keys: int = 200_000) -> None:
        self.max_keys = max_keys
        self.rows: dict[FlowKey, list[int]] = {}  # key -> [bytes, packets, records]
        self.l2: dict[FlowKey, tuple[Any, ...]] = {}  # key -> (src_mac, dst_mac, vlan), first seen
        self.overflow_records = 0
        self.records = 0

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, batch: Batch) -> None:
        rows = self.rows
        cap = self.max_keys
        rate = batch.rate
        n = 0
        dropped = 0
        get = rows.get
        if rate == 1:
            for src, dst, sport, dport, proto, nbytes, npkts in batch.core():
                key = (src, dst, sport, dport, proto)
                v = get(key)
                if v is not None:
                    v[0] += nbytes
                    v[1] += npkts
                    v[2] += 1
                elif len(rows) < cap:
                    rows[key] = [nbytes, npkts, 1]
                else:
                    dropped += 1
                n += 1
        else:
            for src, dst, sport, dport, proto, nbytes, npkts in batch.core():
                key = (src, dst, sport, dport, proto)
                v = get(key)
                if v is not None:
                    v[0] += nbytes * rate
                    v[1] += npkts * rate
                    v[2] += 1
                elif len(rows) < cap:
                    rows[key] = [nbytes * rate, npkts * rate, 1]
                else:
                    dropped += 1
                n += 1
        self.records += n
        self.overflow_records += dropped
        l2 = batch.l2()
        if l2 is not None:
            seen = self.l2
            for (src, dst, sport, dport, proto, _b, _p), macs in zip(batch.core(), l2, strict=False):
                key = (src, dst, sport, dport, proto)
                if key not in seen and key in rows:
                    seen[key] = macs
