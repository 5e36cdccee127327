"""Flow decoding and end-to-end throughput.

1. Decode: records/s for the corpus's Cisco NetFlow v9 (template 260, 23 fields,
   21 records per datagram) and softflowd IPFIX datagrams, decoded by this
   collector into the records aggregation uses, and side by side by the PyPI
   ``netflow`` package (if installed) on the same datagrams.
2. End to end: a sender process offers Cisco v9 datagrams over loopback UDP at
   increasing rates; the listener receives, decodes and aggregates them. Reports
   records/s received and loss (sent vs decoded, and the kernel's SO_RXQ_OVFL count).

Run: ``.venv/bin/python bench/flows.py [--seconds 3] [--corpus ../shared/corpus/flows]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collectors.flows import Decoder, FlowCollector, FlowListener  # noqa: E402

EXPORTER = "127.0.0.1"


def corpus_sets(corpus: Path) -> dict[str, tuple[list[bytes], bytes]]:
    b = corpus / "bitkeks_python-netflow"
    g = corpus / "goflow2"
    return {
        "cisco v9 (23 fields)": ([(g / "v9_cisco_tpl260_23fields.bin").read_bytes()],
                                 (g / "v9_cisco_data260_21rec.bin").read_bytes()),
        "ipfix softflowd": ([(b / "ipfix_softflowd_4tpl_1opttpl_20rec.bin").read_bytes()],
                            (b / "ipfix_softflowd_data_only_3rec.bin").read_bytes()),
        "ipfix softflowd 20rec": ([], (b / "ipfix_softflowd_4tpl_1opttpl_20rec.bin").read_bytes()),
    }


def bench_ours(pre: list[bytes], data: bytes, seconds: float) -> float:
    d = Decoder()
    for p in pre:
        d.decode(p, EXPORTER)
    n = 0
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        for _ in range(200):
            for b in d.decode(data, EXPORTER).batches:
                for _rec in b.core():
                    n += 1
    return n / (time.perf_counter() - t0)


def bench_netflow_pkg(pre: list[bytes], data: bytes, seconds: float) -> float | None:
    try:
        import netflow  # type: ignore[import-not-found]
    except ImportError:
        return None
    templates: dict[str, Any] = {"netflow": {}, "ipfix": {}}
    for p in pre:
        netflow.parse_packet(p, templates)
    n = 0
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        for _ in range(20):
            pkt = netflow.parse_packet(data, templates)
            n += len(pkt.flows)
    return n / (time.perf_counter() - t0)


# ------------------------------------------------------------------ end to end
def _sender(port: int, pre: list[bytes], data: bytes, rate: float, seconds: float, q: Any) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for p in pre:
        s.sendto(p, ("127.0.0.1", port))
    time.sleep(0.05)
    batch = 32
    interval = batch / rate
    sent = 0
    t0 = time.perf_counter()
    nxt = t0
    while True:
        now = time.perf_counter()
        if now - t0 >= seconds:
            break
        if now < nxt:
            time.sleep(min(nxt - now, 0.001))
            continue
        for _ in range(batch):
            try:
                s.sendto(data, ("127.0.0.1", port))
                sent += 1
            except OSError:
                pass
        nxt += interval
    q.put((sent, time.perf_counter() - t0))


async def _e2e(pre: list[bytes], data: bytes, records_per_dgram: int, rec_rate: float,
               seconds: float) -> dict[str, float]:
    coll = FlowCollector(["127.0.0.0/8"])
    lst = FlowListener([("127.0.0.1", 0)], coll.feed, rcvbuf=64 << 20)
    lst.start()
    port = lst.bound[0][1]
    q: Any = mp.Queue()
    dgram_rate = rec_rate / records_per_dgram
    proc = mp.Process(target=_sender, args=(port, pre, data, dgram_rate, seconds, q))
    t0 = time.perf_counter()
    proc.start()
    while proc.is_alive():  # noqa: ASYNC110 - a process, not an event
        await asyncio.sleep(0.05)
    sent, elapsed = q.get()
    idle = 0
    last = -1
    t_last = time.perf_counter()
    while idle < 5:  # drain what is still queued in the socket
        await asyncio.sleep(0.05)
        if lst.datagrams == last:
            idle += 1
        else:
            idle, t_last = 0, time.perf_counter()
        last = lst.datagrams
    lst.close()
    got = coll.table.records
    offered = sent * records_per_dgram
    busy = max(t_last - t0 - 0.05, elapsed)  # until the last datagram was handled
    return {"offered_rec_s": offered / elapsed, "received_rec_s": got / busy,
            "loss_pct": 100.0 * (offered - got) / offered if offered else 0.0,
            "kernel_drops": float(lst.kernel_drops)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "flows")
    ap.add_argument("--rates", default="100000,200000,300000,400000,600000")
    args = ap.parse_args()
    if not args.corpus.is_dir():
        print(f"flow corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    sets = corpus_sets(args.corpus)
    print("decode (records/s)")
    print(f"  {'datagrams':26} {'edge-sensor':>14} {'netflow (PyPI)':>16} {'ratio':>8}")
    for name, (pre, data) in sets.items():
        ours = bench_ours(pre, data, args.seconds)
        theirs = bench_netflow_pkg(pre, data, args.seconds)
        ratio = f"{ours / theirs:7.1f}x" if theirs else "      -"
        t = f"{theirs:16,.0f}" if theirs else f"{'not installed':>16}"
        print(f"  {name:26} {ours:14,.0f} {t} {ratio}")
    print("end to end over loopback UDP (receive, decode, aggregate), cisco v9, 21 records/datagram")
    print(f"  {'offered rec/s':>14} {'received rec/s':>15} {'loss %':>8} {'kernel drops':>13}")
    pre, data = sets["cisco v9 (23 fields)"]
    for rate in (float(r) for r in args.rates.split(",")):
        r = asyncio.run(_e2e(pre, data, 21, rate, args.seconds))
        print(f"  {r['offered_rec_s']:14,.0f} {r['received_rec_s']:15,.0f} {r['loss_pct']:8.3f} "
              f"{r['kernel_drops']:13,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
