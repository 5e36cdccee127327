#!/usr/bin/env python3
"""Benchmark: one full correlation of a synthetic hospital.

200 switches x 48 ports (1 core router, 9 distribution, 190 access switches), LLDP
on every link between switches in both directions, 10,000 devices on access ports
(some behind IP phones), every device learned on its access port and on every
uplink on its way to the core, and the core's ARP table with an IPv4 address per
device. Prints the CPU time and peak RSS of one full correlation (snapshots ->
view -> tracker -> classification -> risk -> records), from an empty state, and of
one steady-state poll of one access switch afterwards.

Goal (issue 4): under 1 s CPU and under 200 MB RSS.

    .venv/bin/python bench/correlate.py [--devices N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor, Snapshot, SwitchInfo
from sensor.classify.classifier import Classifier
from sensor.classify.oui import registry
from sensor.classify.rules import load_rules
from sensor.correlate.engine import Correlator, CorrelatorConfig
from sensor.correlate.tracker import TrackerSettings
from sensor.correlate.view import Settings

PORTS = 48
OUIS = ["58:42:e4", "00:09:fb", "f8:bc:12", "00:1e:7a", "3c:52:82", "00:0f:14", "00:1a:fa", "08:00:37", "a0:36:9f"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def base_mac(i: int) -> str:
    return f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}"


def port_mac(i: int, p: int) -> str:
    return f"02:00:01:{i >> 8:02x}:{i & 255:02x}:{p:02x}"


def hospital(n_devices: int, seed: int = 1) -> dict[str, Snapshot]:
    rnd = random.Random(seed)
    names = ["core"] + [f"dist{i}" for i in range(1, 10)] + [f"acc{i:03d}" for i in range(1, 191)]
    idx = {n: i for i, n in enumerate(names)}
    parent = {f"dist{i}": "core" for i in range(1, 10)}
    children: dict[str, list[str]] = {n: [] for n in names}
    for i in range(1, 191):
        parent[f"acc{i:03d}"] = f"dist{(i - 1) % 9 + 1}"
    for c, p in parent.items():
        children[p].append(c)
    # port numbers: uplink = 48; downlinks 1..n on dist/core
    down_port = {c: children[p].index(c) + 1 for c, p in parent.items()}
    fdb: dict[str, list[FdbEntry]] = {n: [] for n in names}
    lldp: dict[str, list[LldpNeighbor]] = {n: [] for n in names}
    for c, p in parent.items():
        lldp[c].append(LldpNeighbor(switch=c, ifindex=PORTS, chassis_id=base_mac(idx[p]), sys_name=p,
                                    capabilities=("bridge", "router") if p == "core" else ("bridge",)))
        lldp[p].append(LldpNeighbor(switch=p, ifindex=down_port[c], chassis_id=base_mac(idx[c]), sys_name=c,
                                    capabilities=("bridge",)))
        # each switch learns its neighbour's base MAC on the link
        fdb[c].append(FdbEntry(switch=c, ifindex=PORTS, vlan=1, mac=base_mac(idx[p])))
        fdb[p].append(FdbEntry(switch=p, ifindex=down_port[c], vlan=1, mac=base_mac(idx[c])))
    arp: list[ArpEntry] = []
    access = [n for n in names if n.startswith("acc")]
    for d in range(n_devices):
        sw = access[d % len(access)]
        port = (d // len(access)) % 46 + 1
        mac = f"{rnd.choice(OUIS)}:{(d >> 16) & 255:02x}:{(d >> 8) & 255:02x}:{d & 255:02x}"
        vlan = 10 + (port % 3)
        fdb[sw].append(FdbEntry(switch=sw, ifindex=port, vlan=vlan, mac=mac))
        # on every uplink on the way to the core
        cur = sw
        while cur in parent:
            p = parent[cur]
            fdb[cur].append(FdbEntry(switch=cur, ifindex=PORTS, vlan=vlan, mac=mac))
            fdb[p].append(FdbEntry(switch=p, ifindex=down_port[cur], vlan=vlan, mac=mac))
            cur = p
        arp.append(ArpEntry(router="core", ifindex=1000 + vlan, ip=f"10.{vlan}.{d >> 8 & 255}.{d & 255}", mac=mac))
    snaps = {}
    for n in names:
        ifaces = tuple(Interface(switch=n, ifindex=p, name=f"Gi1/0/{p}", phys_address=port_mac(idx[n], p),
                                 oper_up=True) for p in range(1, PORTS + 1))
        snaps[n] = Snapshot(switch=n, taken_at=1000.0 + idx[n], method="snmp",
                            system=SwitchInfo(switch=n, sys_name=n, base_mac=base_mac(idx[n])),
                            interfaces=ifaces, fdb=tuple(fdb[n]), lldp=tuple(lldp[n]),
                            arp=tuple(arp) if n == "core" else ())
    return snaps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    args = ap.parse_args()

    rules = load_rules()
    registry()  # the OUI registry is loaded once at start-up, not per correlation
    rss_start = rss_mb()
    snaps = hospital(args.devices)
    rss_facts = rss_mb()
    settings = CorrelatorConfig(view=Settings(switch_hosts={n: "" for n in snaps}),
                                tracker=TrackerSettings(intervals={n: 900.0 for n in snaps}))
    corr = Correlator(settings, Classifier(rules))
    prof = cProfile.Profile() if args.profile else None
    t0, w0 = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    out = corr.ingest(snaps.values(), now=2000.0)
    if prof:
        prof.disable()
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    rss_full = rss_mb()

    attached = sum(1 for r in out.records.values() if r.attachment is not None and r.attachment.confidence >= 0.7
                   and r.attachment.switch.startswith("acc"))
    assert attached == args.devices, f"{attached} of {args.devices} devices on their access ports"
    one = snaps["acc001"]
    t1 = time.process_time()
    steady = corr.ingest([Snapshot(switch=one.switch, taken_at=one.taken_at + 900, method=one.method,
                                   system=one.system, interfaces=one.interfaces, fdb=one.fdb, lldp=one.lldp)],
                         now=2900.0)
    cpu_steady = time.process_time() - t1

    fdb_rows = sum(len(s.fdb) for s in snaps.values())
    print(f"synthetic hospital: {len(snaps)} switches x {PORTS} ports, {args.devices} devices, "
          f"{fdb_rows} FDB rows, {len(snaps['core'].arp)} ARP rows")
    print(f"full correlation:   {cpu:.3f} s CPU ({wall:.3f} s wall), {len(out.devices)} records, "
          f"{len(out.events)} events")
    print(f"steady-state poll:  {cpu_steady:.3f} s CPU for one access switch, {len(steady.devices)} records "
          f"republished, {len(steady.events)} events")
    print(f"peak RSS:           {rss_full:.0f} MB (after start-up and OUI registry {rss_start:.0f} MB, "
          f"with the facts {rss_facts:.0f} MB)")
    ok = cpu < 1.0 and rss_full < 200
    print(f"goal (< 1 s CPU, < 200 MB): {'met' if ok else 'NOT met'}")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
