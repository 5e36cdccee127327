#!/usr/bin/env python3
"""Whole SNMP polls of every corpus recording, again and again, as the sensor polls a switch each interval.

    .venv/bin/python bench/snmp_poll.py             # every corpus recording, 4 polls each
    .venv/bin/python bench/snmp_poll.py --polls 10

snmpsim serves each recording of ../shared/corpus/snmp; the collector polls it ``--polls`` times
in a row, feeding each poll the row counts of the one before (as the sensor's SwitchSource
does). Prints per recording: the first poll's requests, varbinds and CPU time, and the same for
the steady state (the mean of the later polls). Varbinds beyond the end of a table are what a
GETBULK overshoot costs: every one is BER-decoded.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.snmp_walk import CORPUS, serve_recordings  # noqa: E402
from collectors.snmp.client import Credentials, Target, close_engines  # noqa: E402
from collectors.snmp.poll import poll as snmp_poll  # noqa: E402

HINTS = "row_hints" in inspect.signature(snmp_poll).parameters


async def polls(port: int, device: str, n: int) -> list[tuple[int, int, float]]:
    target = Target("127.0.0.1", port, timeout=5, max_repetitions=20)
    creds = Credentials("2c", community=device)
    out: list[tuple[int, int, float]] = []
    hints: dict[str, int] | None = None
    for _ in range(n):
        c0 = time.process_time()
        kw = {"row_hints": hints} if HINTS else {}
        res = await snmp_poll(device, target, creds, **kw)  # type: ignore[arg-type]
        out.append((res.requests, res.varbinds, time.process_time() - c0))
        hints = dict(res.rows)
    close_engines()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--polls", type=int, default=4)
    a = ap.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}: nothing to poll")
        return 0
    devices = sorted(p.name for p in CORPUS.iterdir() if (p / "device.snmprec").is_file())
    print(f"row hints from the previous poll: {'yes' if HINTS else 'no (this version has none)'}")
    print(f"{'recording':<28} {'first: req':>10} {'varbinds':>9} {'cpu ms':>7}   {'steady: req':>11} "
          f"{'varbinds':>9} {'cpu ms':>7}")
    tot_first = tot_steady = 0.0
    vb_first = vb_steady = 0.0
    results: dict[str, list[tuple[int, int, float]]] = {}
    with serve_recordings(devices) as port:
        for dev in devices:
            asyncio.run(polls(port, dev, 1))  # warm snmpsim's index of this recording
            results[dev] = asyncio.run(polls(port, dev, a.polls))
    for dev, got in results.items():
        first, rest = got[0], got[1:] or got
        req = statistics.mean(r[0] for r in rest)
        vb = statistics.mean(r[1] for r in rest)
        cpu = statistics.mean(r[2] for r in rest)
        tot_first += first[2]
        tot_steady += cpu
        vb_first += first[1]
        vb_steady += vb
        print(f"{dev:<28} {first[0]:>10} {first[1]:>9} {first[2] * 1000:>7.0f}   {req:>11.0f} {vb:>9.0f} "
              f"{cpu * 1000:>7.0f}")
    print(f"{'all recordings':<28} {'':>10} {vb_first:>9.0f} {tot_first * 1000:>7.0f}   {'':>11} {vb_steady:>9.0f} "
          f"{tot_steady * 1000:>7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
