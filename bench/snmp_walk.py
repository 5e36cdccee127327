#!/usr/bin/env python3
"""Walk the same SNMP columns with the sensor's collector and with net-snmp's snmpbulkwalk, side by side.

    .venv/bin/python bench/snmp_walk.py                 # snmpsim serving the largest corpus recording
    .venv/bin/python bench/snmp_walk.py --lab           # also the lab's dist snmpd (lab/up first)
    .venv/bin/python bench/snmp_walk.py --profile       # plus where the collector's CPU time goes

Prints wall time, CPU time, varbinds and varbinds/s for each, and the ratios sensor/net-snmp of
wall and CPU time, and of CPU per varbind (the collector's walks overshoot a table's end by up to
one request's worth of rows, so it decodes more varbinds than snmpbulkwalk prints).
Both walk every column of the collector's tables (collectors/snmp/oids.py) with max-repetitions 20;
net-snmp walks them one column per process, one after the other, the collector walks them as it
polls (several columns per request, tables concurrently). CPU time is what each side burns:
the collector's process time, and the summed user+sys time of the snmpbulkwalk children.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collectors.snmp import oids  # noqa: E402
from collectors.snmp.client import Credentials, Session, Target, WalkStats, close_engines  # noqa: E402
from tests.snmp.agents import CORPUS, snmpsim  # noqa: E402

COLUMNS = {name: o for table in oids.TABLES.values() for name, o in table.items()}


@contextlib.contextmanager
def serve_recordings(devices: list[str]) -> Iterator[int]:
    """snmpsim serving the corpus recordings named, each under its name as community, on a free port."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for dev in devices:
            shutil.copyfile(CORPUS / dev / "device.snmprec", data / f"{dev}.snmprec")
        with snmpsim(data, devices[0]) as port:
            yield port


# Under the private enterprise arc of a vendor that none of the recordings is: every walk is empty.
EMPTY = (1, 3, 6, 1, 4, 1, 99999, 1)


def netsnmp(host: str, port: int, community: str, prefix: list[str], empty: bool = False) -> dict[str, float]:
    """snmpbulkwalk each column in turn (``empty``: as many walks of an empty subtree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    varbinds = 0
    for o in COLUMNS.values() if not empty else [EMPTY] * len(COLUMNS):
        res = subprocess.run([*prefix, "snmpbulkwalk", "-v2c", "-c", community, "-Cr20", "-On", "-t", "5",
                              f"udp:{host}:{port}", ".".join(map(str, o))],
                             capture_output=True, text=True, env={**os.environ, "MIBS": ""})
        varbinds += sum(1 for line in res.stdout.splitlines() if line.startswith(".") and " = " in line
                        and "No Such" not in line and "No more" not in line)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "varbinds": varbinds}


async def _collector_walk(host: str, port: int, community: str) -> WalkStats:
    stats = WalkStats()
    s = Session(Target(host, port, timeout=5, max_repetitions=20), Credentials("2c", community=community), stats)
    await asyncio.gather(*(s.walk(cols) for cols in oids.TABLES.values()))
    close_engines()
    return stats


def collector(host: str, port: int, community: str, profile: bool) -> dict[str, float]:
    prof = cProfile.Profile() if profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    stats = asyncio.run(_collector_walk(host, port, community))
    if prof:
        prof.disable()
    out = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "varbinds": stats.varbinds,
           "requests": stats.requests}
    if prof:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
        print(buf.getvalue())
    return out


def row(label: str, r: dict[str, float]) -> str:
    return (f"{label:<34} {r['wall']:7.2f} s {r['cpu']:7.2f} s {int(r['varbinds']):9d} "
            f"{r['varbinds'] / r['wall']:9.0f} {r['varbinds'] / max(r['cpu'], 1e-9):10.0f}")


def report(agent: str, ours: dict[str, float], theirs: dict[str, float], start: dict[str, float]) -> None:
    print(f"\n{agent}")
    print(f"{'walker':<34} {'wall':>9} {'CPU':>9} {'varbinds':>9} {'vb/s wall':>9} {'vb/CPU-s':>10}")
    print(row("sensor collector (v2c: ber.py)", ours))
    print(row("net-snmp snmpbulkwalk (C)", theirs))
    print(f"{'ratio sensor/net-snmp':<34} {ours['wall'] / theirs['wall']:7.2f} x {ours['cpu'] / theirs['cpu']:7.2f} x")
    per_vb = (ours["cpu"] / ours["varbinds"]) / (theirs["cpu"] / theirs["varbinds"])
    print(f"{'ratio CPU per varbind':<34} {per_vb:19.2f} x")
    # Most of snmpbulkwalk's CPU is starting one process per column, which the ratios above
    # include: the same number of walks of an empty subtree shows how much (too noisy here to
    # subtract into a per-varbind figure of its own).
    print(f"{'of which net-snmp process starts':<34} {start['cpu']:17.2f} s  ({len(COLUMNS)} empty walks)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="ciscosb_sg550x-8f8t", help="corpus recording to serve (default: largest)")
    ap.add_argument("--lab", action="store_true", help="also walk the lab's dist snmpd from es-mgmt")
    ap.add_argument("--profile", action="store_true", help="cProfile the collector's walk")
    ap.add_argument("--target", help=argparse.SUPPRESS)  # host:port:community-file (used for --lab)
    a = ap.parse_args()

    if a.target:  # inside es-mgmt: print the two results as JSON
        host, port, cfile = a.target.split(":", 2)
        community = Path(cfile).read_text().strip()
        print(json.dumps({"ours": collector(host, int(port), community, False),
                          "theirs": netsnmp(host, int(port), community, []),
                          "start": netsnmp(host, int(port), community, [], empty=True)}))
        return 0

    if CORPUS.is_dir():
        with serve_recordings([a.device]) as port:
            ours = collector("127.0.0.1", port, a.device, a.profile)
            theirs = netsnmp("127.0.0.1", port, a.device, [])
            start = netsnmp("127.0.0.1", port, a.device, [], empty=True)
        report(f"snmpsim serving {a.device} (127.0.0.1:{port}); the agent itself is the bottleneck for wall time",
               ours, theirs, start)
    else:
        print(f"corpus not found at {CORPUS}: skipping the snmpsim run")

    if a.lab:
        lab = Path("/run/edge-sensor-lab/lab.json")
        if not lab.exists():
            print("lab is not up (sudo lab/up): skipping the snmpd run")
            return 0
        truth = json.loads(lab.read_text())
        dist = next(s for s in truth["switches"] if s["name"] == "dist")
        res = subprocess.run(["ip", "netns", "exec", "es-mgmt", sys.executable, __file__, "--target",
                              f"{dist['mgmt_ip']}:{dist['snmp_port']}:{truth['credentials']['community_file']}"],
                             capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.splitlines()[-1])
        report(f"lab snmpd on dist ({dist['mgmt_ip']}), from es-mgmt", r["ours"], r["theirs"], r["start"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
