"""Segmentation policy: proposing from a large site, and what watching costs a flow window.

1. Propose: a synthetic hospital of N devices (default 10,000: pumps, monitors,
   imaging, analyzers, workstations) whose 30 days of conversations are in the
   observed matrix (each conversation seen in up to 8,640 five-minute windows).
   Measures the CPU of ``sensor policy propose``'s work: loading the matrix from the
   state directory, placing every address, proposing, and writing the TOML.
2. Watch: one flow window's records at R records/s (default 300,000) for W seconds
   are decoded and aggregated as the flow source does (IPFIX datagrams fed to the
   collector, per-device conversations, baselines); then the same conversations are
   folded into the observed matrix and checked against the approved policy. Reports
   the CPU of each part and the policy's share of the window's CPU.

Run: ``.venv/bin/python bench/policy.py [--devices 10000] [--rate 300000] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402

from collectors.flows import FlowCollector  # noqa: E402
from sensor.config import PolicySection  # noqa: E402
from sensor.directory import DeviceDirectory  # noqa: E402
from sensor.flows.baseline import Baselines, BaselineState  # noqa: E402
from sensor.flows.conversations import Aggregator  # noqa: E402
from sensor.policy.document import dump_policy  # noqa: E402
from sensor.policy.matrix import Entry, Matrix, MatrixState, load_matrix, matrix_path, save_matrix  # noqa: E402
from sensor.policy.propose import Placer, inventory, propose, served_servers  # noqa: E402
from sensor.policy.watch import PolicyWatch  # noqa: E402
from sensor.policy.zones import Zoning  # noqa: E402

INTERNAL = ["10.0.0.0/8"]
DAY = 86400.0
MIX = [("infusion_pump", True, 0.3), ("patient_monitor", True, 0.2), ("imaging", True, 0.05),
       ("lab_analyzer", True, 0.05), ("workstation", False, 0.4)]
# class -> conversations it opens: (server pool, proto, port)
SERVERS = {"pharmacy": ["10.200.0.5", "10.200.0.6"], "central": [f"10.200.1.{i}" for i in range(1, 21)],
           "pacs": ["10.200.2.10", "10.200.2.11"], "lis": ["10.200.3.5"], "dns": ["10.200.9.53", "10.200.9.54"],
           "ntp": ["10.200.9.123"], "files": ["10.200.8.80"], "web": ["10.200.8.81"]}
OPENS = {"infusion_pump": [("pharmacy", 6, 2575), ("dns", 17, 53), ("ntp", 17, 123)],
         "patient_monitor": [("central", 6, 24005), ("central", 17, 24105), ("ntp", 17, 123)],
         "imaging": [("pacs", 6, 104), ("dns", 17, 53)],
         "lab_analyzer": [("lis", 6, 2575), ("ntp", 17, 123)],
         "workstation": [("files", 6, 445), ("web", 6, 443), ("dns", 17, 53)]}


def site(n: int, seed: int = 1) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """Device records and ip -> (mac, class)."""
    rnd = random.Random(seed)
    records, devs = [], {}
    for i in range(n):
        x, acc = rnd.random(), 0.0
        cls, medical = MIX[-1][0], MIX[-1][1]
        for c, med, share in MIX:
            acc += share
            if x < acc:
                cls, medical = c, med
                break
        ip = str(ipaddress.IPv4Address("10.1.0.0") + i)
        mac = f"02:00:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
        devs[ip] = (mac, cls)
        records.append({"mac": mac, "ips": [{"ip": ip}], "attachment": {"switch": f"sw{i // 48}", "port": str(i % 48)},
                        "classification": {"device_class": cls, "medical": medical}})
    return records, devs


EXTRA_SERVERS = [f"10.210.{i // 250}.{i % 250 + 1}" for i in range(500)]
EXTRA_PORTS = [(6, p) for p in (80, 443, 8080, 8443, 1433, 5432, 3306, 389, 636, 22, 3389, 9100, 515, 631)] + \
    [(17, p) for p in (161, 162, 514, 69, 5060)] + [(6, 20000 + i) for i in range(30)]


def conversations(devs: dict[str, tuple[str, str]], seed: int = 2, extra: int = 5) -> list[tuple[str, str, int, int]]:
    """What each device opens: its class's usual servers plus ``extra`` random internal services."""
    rnd = random.Random(seed)
    out = []
    monitors = [ip for ip, (_, c) in devs.items() if c == "patient_monitor"]
    for ip, (_, cls) in devs.items():
        for pool, proto, port in OPENS[cls]:
            out.append((ip, rnd.choice(SERVERS[pool]), proto, port))
        for _ in range(extra):
            proto, port = rnd.choice(EXTRA_PORTS)
            out.append((ip, rnd.choice(EXTRA_SERVERS), proto, port))
        if cls == "workstation" and rnd.random() < 0.2:  # the central-station viewer opens a monitor's page
            out.append((ip, rnd.choice(monitors), 6, 443))
    return out


def thirty_days(convs: list[tuple[str, str, int, int]], devs: dict[str, tuple[str, str]], now: float,
                seed: int = 3) -> Matrix:
    rnd = random.Random(seed)
    entries = []
    for client, server, proto, port in convs:
        windows = rnd.randint(1, 8640) if rnd.random() < 0.97 else 1  # a few one-offs
        first = now - 30 * DAY + rnd.random() * DAY
        last = now - rnd.random() * 3600
        entries.append(Entry(client, server, proto, port, devs.get(client, (None,))[0],
                             devs.get(server, (None,))[0], windows * 2000, windows, windows, first, last))
    return Matrix(MatrixState(entries=entries), window=30 * DAY, max_entries=2_000_000)


def bench_propose(n: int) -> tuple[PolicySection, Path, list[dict[str, Any]], dict[str, tuple[str, str]]]:
    records, devs = site(n)
    convs = conversations(devs)
    now = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="bench-policy-"))
    save_matrix(thirty_days(convs, devs, now), tmp)
    section = PolicySection()
    c0, w0 = time.process_time(), time.perf_counter()
    m = load_matrix(tmp, window=float(section.window), max_entries=2_000_000)
    c1 = time.process_time()
    devices = inventory(records)
    placer = Placer(Zoning.from_config(section, INTERNAL, served_servers(m.entries, devices)), devices)
    prop = propose(m.entries, placer, section, now=now, site="bench")
    c2 = time.process_time()
    text = dump_policy(prop.doc)
    (tmp / "proposed.toml").write_text(text)
    c3, w3 = time.process_time(), time.perf_counter()
    doc = prop.doc
    print(f"propose: {n} devices, {len(m.index)} conversations over 30 days "
          f"({(tmp / 'policy' / 'matrix.json').stat().st_size / 1e6:.1f} MB matrix)")
    print(f"  load matrix {c1 - c0:.2f} s, place + propose {c2 - c1:.2f} s, write TOML {c3 - c2:.2f} s "
          f"({len(text) / 1e6:.1f} MB): {c3 - c0:.2f} s CPU, {w3 - w0:.2f} s wall")
    print(f"  {len(doc.rule)} rules ({sum(r.kind == 'allow' for r in doc.rule)} allow, "
          f"{sum(r.kind == 'review' for r in doc.rule)} review), {prop.out_of_scope} conversations out of scope")
    approved = msgspec.structs.replace(doc, rule=[msgspec.structs.replace(r, state="approved", by="bench")
                                                  for r in doc.rule if r.kind == "allow"])
    path = tmp / "approved.toml"
    path.write_text(dump_policy(approved))
    return section, path, records, devs


def _ipfix(records: list[bytes], seq: int) -> bytes:
    # template 256: src, dst (IPv4), sport, dport, proto, octets (8), packets (4)
    fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 4)]
    tpl = struct.pack("!HH", 256, len(fields)) + b"".join(struct.pack("!HH", ie, ln) for ie, ln in fields)
    tset = struct.pack("!HH", 2, len(tpl) + 4) + tpl
    body = b"".join(records)
    dset = struct.pack("!HH", 256, len(body) + 4) + body
    sets = tset + dset
    return struct.pack("!HHIII", 10, len(sets) + 16, int(time.time()), seq, 1) + sets


def bench_watch(section: PolicySection, path: Path, devs: dict[str, tuple[str, str]], rate: int,
                seconds: float) -> None:
    rnd = random.Random(4)
    convs = conversations(devs)
    rec = struct.Struct("!4s4sHHBQI")
    n_records = int(rate * seconds)
    per_dgram = 30
    dgrams = []
    seq = 0
    # a pool of datagrams replayed: every conversation with many ephemeral source ports, plus violations
    for _ in range(4000):
        recs = []
        for _ in range(per_dgram):
            c, s, proto, port = rnd.choice(convs)
            if rnd.random() < 0.001:  # a workstation probing a pump's telnet: not in the policy
                s, proto, port = "10.1.0.1", 6, 23
            recs.append(rec.pack(ipaddress.IPv4Address(c).packed, ipaddress.IPv4Address(s).packed,
                                 rnd.randint(32768, 60999), port, proto, rnd.randint(100, 100_000),
                                 rnd.randint(1, 100)))
        seq += per_dgram
        dgrams.append(_ipfix(recs, seq))
    directory = DeviceDirectory(macs={ip: mac for ip, (mac, _) in devs.items()},
                                medical_macs=[mac for mac, cls in devs.values() if cls != "workstation"])
    coll = FlowCollector(["127.0.0.0/8"], max_keys=200_000)
    agg = Aggregator(directory, INTERNAL, max_devices=20_000)
    baselines = Baselines(BaselineState(), directory, internal=INTERNAL, learning_period=0)
    matrix = Matrix(window=float(section.window))
    watch = PolicyWatch(path, path.parent, realert=86400)
    now = time.time()
    c0 = time.process_time()
    n = 0
    i = 0
    while n < n_records:
        coll.feed(dgrams[i % len(dgrams)], "127.0.0.1")
        n += per_dgram
        i += 1
    c1 = time.process_time()
    table = coll.swap()
    dcs = agg.summarize(table, now - seconds, now)
    baselines.update(dcs, now)
    c2 = time.process_time()
    matrix.add_window(dcs, now)
    c3 = time.process_time()
    events = watch.check(dcs, now)
    c4 = time.process_time()
    # the next window: the same conversations (verdicts known), violations already reported
    matrix.add_window(dcs, now + seconds)
    watch.check(dcs, now + seconds)
    c5 = time.process_time()
    save_matrix(matrix, path.parent / "watch-state")  # the flow source persists it after every window
    watch.persist()
    c6 = time.process_time()
    window_cpu = c2 - c0
    policy_cpu = c4 - c2
    print(f"watch: one {seconds:g} s window at {rate} records/s = {n} records, {len(table)} distinct flows, "
          f"{len(dcs)} devices")
    print(f"  decode + table {c1 - c0:.2f} s, conversations + baselines {c2 - c1:.2f} s: window {window_cpu:.2f} s CPU")
    print(f"  matrix fold {c3 - c2:.3f} s, policy check {c4 - c3:.3f} s ({len(events)} violations): "
          f"{policy_cpu:.3f} s = {100 * policy_cpu / window_cpu:.1f}% of the window's CPU")
    print(f"  next window (same conversations): matrix fold + policy check {c5 - c4:.3f} s = "
          f"{100 * (c5 - c4) / window_cpu:.1f}%")
    print(f"  persisting the matrix and the watch state: {c6 - c5:.3f} s "
          f"({matrix_path(path.parent / 'watch-state').stat().st_size / 1e6:.1f} MB)")
    per_300 = (c1 - c0) / seconds * 300 + (c2 - c1)  # decoding grows with the window, the table is capped
    print(f"  for the default 300 s window (decode x{300 / seconds:g}, table capped at 200,000 flows): "
          f"first window ~{100 * policy_cpu / per_300:.2f}%, next ~{100 * (c5 - c4) / per_300:.2f}%")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--rate", type=int, default=300_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    section, path, _records, devs = bench_propose(args.devices)
    bench_watch(section, path, devs, args.rate, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
