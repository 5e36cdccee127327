#!/usr/bin/env python3
"""Benchmark: advisories and the asset register on the correlate benchmark's synthetic hospital.

Prints the time to load and index the CSAF documents (../shared/corpus/advisories, the
124 CISA ICSMA files), the time to reconcile a register of every other device (by MAC,
a tenth by IP only) with 10,000 device records, and the time to match every record
against the advisories (the enrichment the correlator does on every ingest). Measures
and prints; never fails on timing.

    .venv/bin/python bench/evidence.py [--devices N] [--advisories DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec

from bench.correlate import hospital
from sensor.classify.classifier import Classifier
from sensor.classify.rules import load_rules
from sensor.correlate.engine import Correlator, CorrelatorConfig
from sensor.correlate.tracker import TrackerSettings
from sensor.correlate.view import Settings
from sensor.evidence.enrich import Evidence, enrich
from sensor.evidence.io import load_advisories
from sensor.evidence.register import RegisterRow

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "advisories"
MODELS = {"Baxter": "Sigma Spectrum 35700BAX", "Philips": "IntelliVue MX450", "BD": "Alaris 8015 PC Unit"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--advisories", type=Path, default=DEFAULT_DIR)
    args = ap.parse_args()
    if not args.advisories.is_dir():
        print(f"no advisories at {args.advisories} (../shared absent): nothing to measure")
        return 0

    loads = []
    for _ in range(5):
        t = time.perf_counter()
        loaded = load_advisories(args.advisories)
        index = loaded.index()
        loads.append(time.perf_counter() - t)
    print(f"advisories: {len(loaded.advisories)} read, {len(loaded.unreadable)} unreadable; load + index "
          f"median {statistics.median(loads) * 1000:.0f} ms (min {min(loads) * 1000:.0f}, max "
          f"{max(loads) * 1000:.0f}) over {len(loads)} runs")

    snaps = hospital(args.devices)
    settings = CorrelatorConfig(view=Settings(switch_hosts={n: "" for n in snaps}),
                                tracker=TrackerSettings(intervals={n: 900.0 for n in snaps}))
    out = Correlator(settings, Classifier(load_rules())).ingest(snaps.values(), now=2000.0)
    records = out.records
    rows = []
    for i, (mac, rec) in enumerate(sorted(records.items())):
        if i % 2:
            continue
        maker = "Baxter" if "Baxter" in (rec.vendor or "") else "Philips" if "Philips" in (rec.vendor or "") else "BD"
        ip = rec.ips[0].ip if rec.ips else None
        rows.append(RegisterRow(line=i + 2, asset_tag=f"A{i:06d}", manufacturer=maker, model=MODELS[maker],
                                mac=None if i % 20 == 0 else mac, ip=ip if i % 20 == 0 else None,
                                location="ward", high_risk=True))
    for label, ev in (("register only", Evidence(register_rows=rows)),
                      ("advisories only", Evidence(advisories=index)),
                      ("register + advisories", Evidence(register_rows=rows, advisories=index))):
        t0, w0 = time.process_time(), time.perf_counter()
        enriched, summary = enrich(records, ev, now=2000.0)
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
        with_adv = sum(1 for r in enriched.values() if r.advisories)
        extra = (f", {summary.matched} matched ({summary.matched_by}), {summary.shadows} shadows; register "
                 f"message {len(msgspec.json.encode(summary)) / 1024:.0f} KiB ({summary.dropped} list entries "
                 "left out)") if summary else ""
        print(f"{label:22}: {cpu:.3f} s CPU ({wall:.3f} s wall) for {len(records)} records, "
              f"{with_adv} with advisories{extra}")
        if ev.advisories is not None:
            t0 = time.process_time()
            enrich(records, ev, now=2000.0)
            print(f"{'':22}  again (a steady-state ingest, matches cached): {time.process_time() - t0:.3f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
