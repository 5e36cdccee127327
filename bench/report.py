#!/usr/bin/env python3
"""Benchmark: ``sensor report`` for the correlate benchmark's synthetic hospital.

200 switches, 10,000 devices (bench/correlate.py's hospital), correlated with controls,
a register row per device and two advisories per medical device, a zone matrix of one
conversation per device to a clinical server, then the whole
report written to a temporary folder: the overview, one port map page per switch,
one evidence page per device, CSV and JSON. Prints the time to write it, the page
count, the largest page and the total size.

Goal (issue 16): under 10 s, no page over 2 MB.

    .venv/bin/python bench/report.py [--devices N] [--out DIR] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.correlate import hospital
from sensor.classify.classifier import Classifier
from sensor.classify.oui import registry
from sensor.classify.rules import load_rules
from sensor.config import PolicySection
from sensor.correlate.engine import Correlator, CorrelatorConfig
from sensor.correlate.tracker import TrackerSettings
from sensor.correlate.view import Settings
from sensor.evidence.controls import ControlsContext
from sensor.evidence.model import AdvisoryMatch, Cve, RegisterFields
from sensor.policy.matrix import Entry
from sensor.policy.zones import Zoning
from sensor.report.data import ReportData, matrix_cells, port_roles_of
from sensor.report.render import write_report

SERVERS = {"infusion_pump": ("10.99.0.5", 2575), "patient_monitor": ("10.99.0.6", 24005),
           "imaging": ("10.99.0.7", 104), "workstation": ("10.99.0.8", 443)}


def build(n: int) -> ReportData:
    rules = load_rules()
    registry()
    snaps = hospital(n)
    settings = CorrelatorConfig(view=Settings(switch_hosts={s: "" for s in snaps}),
                                tracker=TrackerSettings(intervals={s: 900.0 for s in snaps}))
    corr = Correlator(settings, Classifier(rules))
    zoning = Zoning.from_config(PolicySection(), ["10.0.0.0/8"])
    corr.controls = ControlsContext(zoning=zoning, criticality={k: c.criticality for k, c in rules.classes.items()})
    out = corr.ingest(snaps.values(), now=2000.0)
    assert corr.view is not None
    # Evidence as a real site would have it: a register row for every device, two advisories with
    # six CVEs each on every medical device (the pages then carry their full tables).
    cves = tuple(Cve(id=f"CVE-2024-{1000 + i}", cvss=5.0 + i / 2, severity="HIGH") for i in range(6))
    advs = tuple(AdvisoryMatch(advisory=f"ICSMA-24-{k}-01", title=f"Synthetic advisory {k}", released="2024-01-01",
                               confidence="vendor+product+version", basis=("vendor", "model", "firmware"),
                               products=("Model X v1.0 | <= 2.3",), cves=cves, max_cvss=7.5,
                               remediations=("mitigation",) if k % 2 else ("vendor_fix", "mitigation"))
                 for k in (101, 102))
    records = []
    for i, r in enumerate(out.records.values()):
        reg = RegisterFields(asset_tag=f"A-{i:05d}", basis="mac", manufacturer=r.vendor or "", model="Model X",
                             department="ICU", location=f"room {i % 300}", owner="biomed")
        records.append(msgspec.structs.replace(r, register=reg,
                                               advisories=advs if r.classification.medical else ()))
    by_ip = {i.ip: r for r in records for i in r.ips}
    entries = []
    for r in records:
        server, port = SERVERS.get(r.classification.device_class, ("10.99.0.9", 80))
        if r.ips:
            entries.append(Entry(r.ips[0].ip, server, 6, port, r.mac, None, 10_000, 3, 2, 1000.0, 2000.0))

    def place(ip: str, mac: str | None) -> object:
        r = by_ip.get(ip)
        if r is None:
            return zoning.place(ip=ip, mac=mac)
        return zoning.place(ip=ip, mac=r.mac, device_class=r.classification.device_class,
                            medical=r.classification.medical)

    zones, cells = matrix_cells(entries, place, None)
    return ReportData(site="bench", sensor="bench", generated_at=2000.0, devices=records,
                      ports=port_roles_of(corr.view.ports), zones=zones, cells=cells)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--out", help="write here (default: a temporary folder, removed)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = build(args.devices)
    print(f"synthetic hospital: {len(data.ports)} switches, {len(data.devices)} devices, {len(data.cells)} zone "
          f"cells (built and correlated in {time.perf_counter() - t0:.1f} s, not counted)")
    # In the repository's folder, not /tmp: creating files in this machine's /tmp was 25x slower than
    # in /work (5.3 s against 0.2 s for 2,000 files), which measured the file system, not the report.
    with tempfile.TemporaryDirectory(prefix=".bench-report-", dir=Path(__file__).resolve().parents[1]) as tmp:
        out = Path(args.out or tmp)
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        w0, c0 = time.perf_counter(), time.process_time()
        res = write_report(data, out)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if prof:
            prof.disable()
        html = sorted(out.rglob("*.html"), key=lambda p: p.stat().st_size)
        biggest = html[-1]
        print(f"report written:     {wall:.2f} s wall ({cpu:.2f} s CPU in this process), {res.pages} pages, "
              f"{res.total_bytes / 1e6:.1f} MB in all; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
              f"CPU(s)")
        print(f"largest page:       {biggest.relative_to(out)} {biggest.stat().st_size / 1e6:.3f} MB")
        for name in ("index.html", "devices.json", "devices.csv"):
            print(f"  {name}: {(out / name).stat().st_size / 1e6:.3f} MB")
        ok = wall < 10 and biggest.stat().st_size <= 2_000_000
        print(f"goal (< 10 s, no page over 2 MB): {'met' if ok else 'NOT met'}")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
