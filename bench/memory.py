#!/usr/bin/env python3
"""Where the memory of `sensor run` goes at campus size: a breakdown in MB per part.

    .venv/bin/python bench/memory.py [--switches 1000] [--snapshots /tmp/campus-1000.msgpack]

The snapshots are the real ones: the first time, bench/agent.py serves the campus and every
switch is polled once with the sensor's own poller (sensor/switches/methods.py); they are kept
in ``--snapshots`` (msgpack) so that later runs only measure. Then, with tracemalloc, it measures
what each part holds: the latest snapshot of every switch, the correlator (tracker state, the
view it keeps between correlations), one correlation's records and observations, the envelopes
of one outbox commit, and the start-up (imports, OUI registry) in a fresh interpreter.
Measures and prints; never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402

from collectors.facts import Snapshot  # noqa: E402

MB = 1024 * 1024
IMPORTS = ("import sensor.supervisor, sensor.switches.source, sensor.switches.methods, sensor.publish.mqtt;"
           "from sensor.classify.oui import registry; registry();"
           "from sensor.classify.rules import load_rules; load_rules()")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def startup_mb() -> tuple[float, float]:
    """(peak RSS of a bare interpreter, after the imports and data `sensor run` loads), MB."""
    # VmHWM, not ru_maxrss: the latter survives exec() and would report this process's peak
    code = ("import re; r = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) / 1024;"
            f"a = r(); {IMPORTS}; print(a, r())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    a, b = out.stdout.split()
    return float(a), float(b)


def dump(switches: int, path: Path) -> None:
    """Poll every switch of a served campus once with the sensor's poller; write the snapshots."""
    from bench.agent import Campus
    from bench.campus import write_config
    from sensor.config import load_config
    from sensor.switches.methods import poll_switch

    campus = Campus(switches)
    agent = subprocess.Popen([sys.executable, str(REPO / "bench/agent.py"), "--serve", "--switches", str(switches)],
                             stdout=subprocess.PIPE)
    try:
        assert agent.stdout is not None
        ports = json.loads(agent.stdout.readline())
        tmp = Path(tempfile.mkdtemp(prefix="memory-bench-"))
        cfg = load_config(write_config(tmp, campus, ports["port"], 1883, 16, 900.0))

        async def all_switches() -> list[Snapshot]:
            sem = asyncio.Semaphore(16)

            async def one(sw: Any) -> Snapshot:
                async with sem:
                    return (await poll_switch(sw)).snapshot

            return list(await asyncio.gather(*(one(sw) for sw in cfg.switch)))

        t0 = time.monotonic()
        snaps = asyncio.run(all_switches())
        path.write_bytes(msgspec.msgpack.encode(snaps))
        print(f"polled {len(snaps)} switches in {time.monotonic() - t0:.0f}s -> {path}")
    finally:
        agent.terminate()
        agent.wait()


def as_polled(snaps: list[Snapshot]) -> list[Snapshot]:
    """The snapshots with their strings shared as the live poller shares them.

    msgpack decoding makes a new string for every field of every row; the poller passes one
    switch name object to all its rows and interns texts and MACs (collectors/snmp/decode.py).
    """
    def share(e: Any, name: str) -> Any:
        fields = {f: (name if f in ("switch", "router") else sys.intern(v)) for f in e.__struct_fields__
                  if isinstance(v := getattr(e, f), str)}
        return msgspec.structs.replace(e, **fields)

    out = []
    for s in snaps:
        name = sys.intern(s.switch)
        out.append(msgspec.structs.replace(
            s, switch=name, fdb=tuple(share(e, name) for e in s.fdb), arp=tuple(share(e, name) for e in s.arp),
            interfaces=tuple(share(e, name) for e in s.interfaces), lldp=tuple(share(e, name) for e in s.lldp)))
    return out


def traced(label: str, results: dict[str, float], before: int) -> int:
    gc.collect()
    now = tracemalloc.get_traced_memory()[0]
    results[label] = (now - before) / MB
    return now


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--switches", type=int, default=1000)
    ap.add_argument("--snapshots", type=Path, default=None, help="cache of the polled snapshots (msgpack)")
    ap.add_argument("--batches", type=int, default=8, help="the first cycle's snapshots in this many correlations")
    args = ap.parse_args()
    path = args.snapshots or Path(tempfile.gettempdir()) / f"campus-{args.switches}.msgpack"
    if not path.exists():
        dump(args.switches, path)

    bare, started = startup_mb()
    print(f"start-up (fresh interpreter): bare {bare:.1f} MB, after sensor run's imports, OUI registry and rules "
          f"{started:.1f} MB")

    from bench.agent import Campus
    from bench.campus import write_config
    from sensor.classify.oui import registry
    from sensor.config import load_config
    from sensor.correlate.engine import Correlator
    from sensor.observations import device_obs, event_obs

    registry()
    campus = Campus(args.switches)
    tmp = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    cfg = load_config(write_config(tmp, campus, 161, 1883, 16, 900.0))
    data = path.read_bytes()
    res: dict[str, float] = {}
    rss0 = rss_mb()
    tracemalloc.start()
    mark = traced("-", res, 0)
    snaps = as_polled(msgspec.msgpack.decode(data, type=list[Snapshot]))
    del data
    mark = traced("snapshots (every switch's latest, as decoded)", res, mark)
    corr = Correlator.from_config(cfg)
    mark = traced("correlator set-up (config, classifier)", res, mark)
    n = len(snaps)
    step = -(-n // args.batches)
    peak_ingest = 0
    out = None
    t0 = time.process_time()
    for i in range(0, n, step):
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        out = corr.ingest(snaps[i:i + step], now=time.time())
        peak_ingest = max(peak_ingest, tracemalloc.get_traced_memory()[1] - before)
        if i + step < n:
            out = None
    cpu = time.process_time() - t0
    assert out is not None
    records, devices, events = out.records, out.devices, out.events
    out = None
    snaps_list = snaps
    del snaps
    gc.collect()
    now = tracemalloc.get_traced_memory()[0]
    # what the correlator keeps between correlations, part by part (measured by dropping each)
    view = corr.view
    corr.view = None
    del view
    m1 = traced("-", res, 0)
    res["correlator: the view kept between correlations"] = (now - m1) / MB
    del snaps_list  # the correlator's latest snapshots: the first line
    m2 = traced("-", res, 0)
    n_devices = len(corr.tracker.state.devices)
    obs = [device_obs(mac, rec, 0.0) for mac, rec in devices] + [event_obs(ev, 0.0) for ev in events]
    m3 = traced("observations of one correlation (devices + events)", res, m2)
    from sensor.observations import Envelope
    enc = msgspec.json.Encoder()
    payloads = [enc.encode(Envelope(schema="edge-sensor/v1", kind=o.kind, site="s", sensor="x", epoch="e", seq=1,
                                    observed_at="2026-01-01T00:00:00Z", data=o.data)) for o in obs[:2000]]
    m4 = traced("envelopes of one outbox commit (2,000 messages)", res, m3)
    del payloads, obs
    m5 = traced("-", res, 0)
    del devices, events
    m6 = traced("-", res, 0)
    res["Output.devices/events lists"] = (m5 - m6) / MB
    del records
    m7 = traced("-", res, 0)
    res["one correlation's records (DeviceRecord per device)"] = (m6 - m7) / MB
    state = corr.tracker.state
    st_bytes = len(msgspec.msgpack.encode(state))
    corr.tracker.state = type(state)()
    corr.tracker.ips_by_mac = {}
    del state
    m8 = traced("-", res, 0)
    res["correlator: tracker state (devices, bindings, ips_by_mac)"] = (m7 - m8) / MB
    res["correlator: the rest (builder caches, classifier)"] = (m8 - mark) / MB
    _ = m4
    tracemalloc.stop()
    print(f"campus: {args.switches} switches, {sum(len(s.fdb) for s in corr.latest.values())} FDB rows, "
          f"{sum(len(s.arp) for s in corr.latest.values())} ARP/ND rows, {n_devices} devices; "
          f"first cycle in {args.batches} correlations: {cpu:.1f}s CPU (with tracemalloc)")
    for k, v in res.items():
        if k != "-":
            print(f"  {k:<62} {v:7.1f} MB")
    print(f"  {'peak extra during one correlation (transient)':<62} {peak_ingest / MB:7.1f} MB")
    print(f"  correlation.state on disk: {st_bytes / MB:.1f} MB; process peak RSS {rss_mb():.0f} MB "
          f"(before the snapshots {rss0:.0f} MB; tracemalloc's own overhead included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
