"""Run inside es-mgmt by the flow lab test: listen like the sensor, print one JSON line per window.

Usage: python flowcatch.py CONFIG_JSON; then write "window" lines on stdin.
CONFIG_JSON: {"ports": {"v5": 2055, ...}, "internal": [...], "dns_resolvers": [...],
"learning_period": s, "macs": {ip: mac}, "medical_macs": [...]}.

Each export version has its own collector (what that exporter alone reports), and
one more, "all", gets every datagram of the three ports, as the sensor does when it
listens on all of them: there a flow exported three times must be counted once.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import msgspec
import structlog

from collectors.flows import FlowCollector, FlowListener
from sensor.directory import DeviceDirectory
from sensor.flows.baseline import Baselines, BaselineState
from sensor.flows.conversations import Aggregator


async def main(cfg: dict) -> None:
    directory = DeviceDirectory(macs=cfg["macs"], medical_macs=cfg["medical_macs"])
    parts = {}

    def part(coll: FlowCollector, lst: FlowListener) -> tuple[Any, ...]:
        agg = Aggregator(directory, cfg["internal"])
        base = Baselines(BaselineState(), directory, internal=cfg["internal"], dns_resolvers=cfg["dns_resolvers"],
                         learning_period=cfg["learning_period"], realert=3600)
        return coll, lst, agg, base

    combined = FlowCollector(["198.18.0.0/24"])
    listeners = []
    for name, port in cfg["ports"].items():
        coll = FlowCollector(["198.18.0.0/24"])

        def feed(data: bytes, addr: str, coll: FlowCollector = coll) -> None:
            coll.feed(data, addr)
            combined.feed(data, addr)

        lst = FlowListener([("198.18.0.100", port)], feed, rcvbuf=4 << 20)
        lst.start()
        listeners.append(lst)
        parts[name] = part(coll, lst)
    all_lst = FlowListener([], combined.feed)  # counts nothing itself: the three listeners feed it
    parts["all"] = part(combined, all_lst)
    print(json.dumps({"ready": True}), flush=True)
    loop = asyncio.get_running_loop()
    start = time.time()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "quit":
            return
        await asyncio.sleep(float(line.split()[1]) if len(line.split()) > 1 else 0)
        now = time.time()
        out = {}
        for name, (coll, lst, agg, base) in parts.items():
            table = coll.swap()
            convs = agg.summarize(table, start, now)
            events = base.update(convs, now)
            datagrams = sum(x.datagrams for x in listeners) if name == "all" else lst.datagrams
            out[name] = {"records": table.records, "datagrams": datagrams,
                         "errors": coll.decoder.stats["decode_errors"],
                         "conversations": msgspec.to_builtins(convs), "events": msgspec.to_builtins(events)}
        start = now
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is for JSON
    asyncio.run(main(json.loads(sys.argv[1])))
