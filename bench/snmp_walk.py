#!/usr/bin/env python3
"""CPU per varbind of the sensor's SNMP collector against net-snmp's snmpbulkwalk, on the same agent.

    .venv/bin/python bench/snmp_walk.py                 # snmpsim serving the largest corpus recording
    .venv/bin/python bench/snmp_walk.py --lab           # also the lab's dist snmpd (lab/up first)
    .venv/bin/python bench/snmp_walk.py --profile       # plus where the collector's CPU time goes (cProfile)
    .venv/bin/python bench/snmp_walk.py --runs 5        # median of 5 runs of each (default 3)
    .venv/bin/python bench/snmp_walk.py --v3            # SNMPv3: usm against pysnmp's engine, on snmpd

Two comparisons, both at max-repetitions 20 (the collector's default), CPU time only (the agent
is the bottleneck for wall time): the collector's process time, and the user+sys time of the
snmpbulkwalk children.

(b) headline, the fair one: ONE long-lived snmpbulkwalk walking the whole recording under
    .1.3.6.1, against the collector walking the same subtree as one column (Session.walk, the
    code path of every poll). Both send the same GETBULK requests and get the same answers, so
    the varbind counts match; snmpbulkwalk's one process start is included (a few ms, printed).
    Also printed: the collector walking its real tables (several columns per request, tables
    concurrently) against the same single snmpbulkwalk, per varbind.
(a) the old one: snmpbulkwalk once per column of the collector's tables (collectors/snmp/oids.py),
    one process after the other, against the collector walking those tables as it polls. Most of
    net-snmp's CPU there is process start-up (the same number of empty walks shows how much), so
    this ratio flatters the collector. The collector's walks overshoot a table's end by up to one
    request's worth of rows, so it decodes more varbinds than snmpbulkwalk prints.
(f) the floor under (b): the collector's exact request messages of (b), replayed one after the
    other with no walk logic at all: by a bare asyncio DatagramProtocol (one future per request)
    without and with decoding the answers, and by a blocking socket without asyncio. Whatever an
    asyncio walker does on top of these costs more; printed per request against snmpbulkwalk's.
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
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collectors.snmp import ber, oids  # noqa: E402
from collectors.snmp.client import Credentials, Session, Target, WalkStats, _Channel, close_engines  # noqa: E402
from tests.snmp import agents  # noqa: E402
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
WHOLE = (1, 3, 6, 1)
REPS = 20  # the collector's default max-repetitions (Target), used by both sides

Result = dict[str, float]
# A varbind as snmpbulkwalk -On prints it (a string value may go on over more lines), the
# exceptions (noSuchObject, endOfMibView) included: each is a varbind it received and decoded,
# as the collector's count includes them.
VARBIND_LINE = re.compile(r"\.[0-9.]+ = ")


def netsnmp(host: str, port: int, community: str, prefix: list[str], walks: list[tuple[int, ...]],
            v3: list[str] | None = None) -> Result:
    """One snmpbulkwalk process per OID in ``walks``, one after the other (``v3``: its SNMPv3 options)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    varbinds = 0
    for o in walks:
        auth = v3 if v3 else ["-v2c", "-c", community]
        res = subprocess.run([*prefix, "snmpbulkwalk", *auth, f"-Cr{REPS}", "-On", "-t", "5",
                              f"udp:{host}:{port}", ".".join(map(str, o))],
                             capture_output=True, text=True, env={**os.environ, "MIBS": ""})
        varbinds += sum(1 for line in res.stdout.splitlines() if VARBIND_LINE.match(line))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "varbinds": varbinds, "requests": 0}


async def _collector_walk(host: str, port: int, community: str, tables: list[dict[str, tuple[int, ...]]]
                          ) -> WalkStats:
    stats = WalkStats()
    s = Session(Target(host, port, timeout=5, max_repetitions=REPS), Credentials("2c", community=community), stats)
    await asyncio.gather(*(s.walk(cols) for cols in tables))
    close_engines()
    return stats


def collector(host: str, port: int, community: str, tables: list[dict[str, tuple[int, ...]]],
              profile: bool = False) -> Result:
    # CPU time, not wall time: waiting for the agent (epoll) would otherwise top the profile.
    prof = cProfile.Profile(time.process_time) if profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    stats = asyncio.run(_collector_walk(host, port, community, tables))
    if prof:
        prof.disable()
    out = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "varbinds": stats.varbinds,
           "requests": stats.requests}
    if prof:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
        print(buf.getvalue())
    return out


@contextlib.contextmanager
def recording_requests() -> Iterator[list[bytes]]:
    """Every v1/v2c request message the collector sends while inside (for the floor's replay)."""
    sent: list[bytes] = []
    original = _Channel.send

    def send(self: _Channel, message: bytes, *args: Any, **kwargs: Any) -> Any:
        sent.append(message)
        return original(self, message, *args, **kwargs)

    _Channel.send = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        _Channel.send = original  # type: ignore[method-assign]


def replay_asyncio(host: str, port: int, messages: list[bytes], decode: bool) -> Result:
    """``messages`` sent one after the other, each after the previous one's answer, through a bare
    asyncio DatagramProtocol (``decode``: each answer through ber.decode_response)."""

    class Replay(asyncio.DatagramProtocol):
        waiting: asyncio.Future[bytes] | None = None

        def datagram_received(self, data: bytes, addr: Any) -> None:
            if decode:
                ber.decode_response(data)
            if self.waiting is not None and not self.waiting.done():
                self.waiting.set_result(data)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(Replay, remote_addr=(host, port))
        try:
            c0 = time.process_time()
            for m in messages:
                proto.waiting = loop.create_future()
                transport.sendto(m)
                await asyncio.wait_for(proto.waiting, 5)
            return time.process_time() - c0
        finally:
            transport.close()

    t0 = time.perf_counter()
    cpu = asyncio.run(run())
    return {"wall": time.perf_counter() - t0, "cpu": cpu, "varbinds": 0, "requests": len(messages)}


def replay_blocking(host: str, port: int, messages: list[bytes]) -> Result:
    """``messages`` through a blocking socket, no asyncio, answers not decoded."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.connect((host, port))
        t0, c0 = time.perf_counter(), time.process_time()
        for m in messages:
            sock.send(m)
            sock.recv(65535)
        return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "varbinds": 0,
                "requests": len(messages)}


def median(runs: list[Result]) -> Result:
    """The run with the median CPU per varbind (the machine is shared: single runs are noisy)."""
    return sorted(runs, key=lambda r: r["cpu"] / max(r["varbinds"], 1))[len(runs) // 2]


TABLES = list(oids.TABLES.values())


def measure(host: str, port: int, community: str, runs: int, prefix: list[str]) -> dict[str, Result]:
    """Every walk of both comparisons, each ``runs`` times, interleaved; the median of each."""
    got: dict[str, list[Result]] = {k: [] for k in ("ours_whole", "theirs_whole", "ours_tables", "theirs_columns",
                                                    "start_one", "start_columns", "floor_async",
                                                    "floor_async_decode", "floor_blocking")}
    for _ in range(runs):
        with recording_requests() as sent:
            got["ours_whole"].append(collector(host, port, community, [{"whole": WHOLE}]))
        got["theirs_whole"].append(netsnmp(host, port, community, prefix, [WHOLE]))
        got["floor_async"].append(replay_asyncio(host, port, sent, decode=False))
        got["floor_async_decode"].append(replay_asyncio(host, port, sent, decode=True))
        got["floor_blocking"].append(replay_blocking(host, port, sent))
        got["ours_tables"].append(collector(host, port, community, TABLES))
        got["theirs_columns"].append(netsnmp(host, port, community, prefix, list(COLUMNS.values())))
        got["start_one"].append(netsnmp(host, port, community, prefix, [EMPTY]))
        got["start_columns"].append(netsnmp(host, port, community, prefix, [EMPTY] * len(COLUMNS)))
    return {k: median(v) if not k.startswith(("start", "floor")) else sorted(v, key=lambda r: r["cpu"])[len(v) // 2]
            for k, v in got.items()}


def us_per_vb(r: Result) -> float:
    return 1e6 * r["cpu"] / max(r["varbinds"], 1)


def row(label: str, r: Result) -> str:
    req = f"{int(r['requests']):6d}" if r["requests"] else f"{'':6}"
    return (f"  {label:<44} {r['wall']:6.2f} s {r['cpu']:6.3f} s {int(r['varbinds']):8d} {req} "
            f"{us_per_vb(r):7.2f}")


def report(agent: str, m: dict[str, Result], runs: int) -> None:
    print(f"\n{agent}; median of {runs} runs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  {'walker':<44} {'wall':>8} {'CPU':>8} {'varbinds':>8} {'reqs':>6} {'us/vb':>7}")
    ow, tw, ot, tc = m["ours_whole"], m["theirs_whole"], m["ours_tables"], m["theirs_columns"]
    print(f"(b) one walk of .1.3.6.1, GETBULK max-repetitions {REPS}, identical requests on both sides")
    print(row("sensor collector (Session.walk, one column)", ow))
    print(row("net-snmp: ONE snmpbulkwalk process", tw))
    print(f"  {'of which its process start (empty walk)':<44} {'':8} {m['start_one']['cpu']:6.3f} s")
    print(f"  ==> ratio CPU per varbind (headline)          {us_per_vb(ow) / us_per_vb(tw):6.2f} x"
          + ("" if ow["varbinds"] == tw["varbinds"] else "   (varbind counts differ!)"))
    print(f"  collector walking its {len(TABLES)} tables ({len(COLUMNS)} columns) as it polls:"
          f" {us_per_vb(ot):.2f} us/vb, {us_per_vb(ot) / us_per_vb(tw):.2f} x the single snmpbulkwalk")
    reqs = max(ow["requests"], 1)
    per_req = 1e6 * tw["cpu"] / reqs
    print(f"(f) the floor under (b): the collector's {int(reqs)} requests of (b) replayed, no walk logic"
          f" (us per request; snmpbulkwalk {per_req:.0f}, the collector {1e6 * ow['cpu'] / reqs:.0f})")
    for key, label in (("floor_async", "asyncio protocol + a future, answers not decoded"),
                       ("floor_async_decode", "the same + ber.decode_response of each answer"),
                       ("floor_blocking", "blocking socket, no asyncio, not decoded")):
        f = m[key]
        us = 1e6 * f["cpu"] / max(f["requests"], 1)
        print(f"  {label:<52} {us:6.0f} us/req  {us / per_req:5.2f} x snmpbulkwalk's")
    print(f"(a) the collector's {len(COLUMNS)} columns: one snmpbulkwalk PROCESS PER COLUMN (start-up dominates)")
    print(row("sensor collector (tables, as it polls)", ot))
    print(row(f"net-snmp: {len(COLUMNS)} snmpbulkwalk processes", tc))
    print(f"  {f'of which {len(COLUMNS)} process starts (empty walks)':<44} {'':8} {m['start_columns']['cpu']:6.3f} s")
    print(f"  ratio CPU per varbind                         {us_per_vb(ot) / us_per_vb(tc):6.2f} x")


# (label, user of tests/snmp/agents.V3_MATRIX or None for v2c, SNMPv3 engine)
V3_WALKERS = [("v2c", None, "own"), ("v3 sha/aes128, usm", "u-sha-aes128", "own"),
              ("v3 sha/aes128, pysnmp engine", "u-sha-aes128", "pysnmp"),
              ("v3 md5/des, usm", "u-md5-des", "own"), ("v3 sha256/aes256, usm", "u-sha256-aes256", "own"),
              ("v3 sha512/none, usm", "u-sha512-none", "own")]


async def _v3_walk(port: int, user: str | None, engine: str) -> WalkStats:
    stats = WalkStats()
    if user is None:
        creds = Credentials("2c", community="public")
    else:
        _, auth, priv = next(u for u in agents.V3_MATRIX if u[0] == user)
        creds = Credentials("3", user=user, auth_protocol=auth, auth_key=agents.AUTH_KEY, priv_protocol=priv,
                            priv_key=agents.PRIV_KEY if priv else None)
    s = Session(Target("127.0.0.1", port, timeout=5, max_repetitions=REPS), creds, stats)
    s.v3_engine = engine
    await s.walk({"whole": WHOLE})
    close_engines()
    return stats


def v3(runs: int) -> None:
    """CPU per varbind walking net-snmp's snmpd (.1.3.6.1) over v2c and SNMPv3, ours and pysnmp's."""
    with tempfile.TemporaryDirectory() as tmp, agents.snmpd(Path(tmp)) as port:
        got: dict[str, list[Result]] = {label: [] for label, _, _ in V3_WALKERS}
        got["net-snmp snmpbulkwalk v3 sha/aes128"] = []
        for _ in range(runs):
            for label, user, engine in V3_WALKERS:
                t0, c0 = time.perf_counter(), time.process_time()
                st = asyncio.run(_v3_walk(port, user, engine))
                got[label].append({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                                   "varbinds": st.varbinds, "requests": st.requests})
            got["net-snmp snmpbulkwalk v3 sha/aes128"].append(netsnmp(
                "127.0.0.1", port, "", [], [WHOLE],
                v3=["-v3", "-l", "authPriv", "-u", "u-sha-aes128", "-a", "SHA", "-A", agents.AUTH_KEY, "-x", "AES",
                    "-X", agents.PRIV_KEY]))
        print(f"\nsnmpd (net-snmp), walk of .1.3.6.1 at max-repetitions {REPS}; median of {runs} runs; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"  {'walker':<44} {'wall':>8} {'CPU':>8} {'varbinds':>8} {'reqs':>6} {'us/vb':>7}")
        med = {k: median(v) for k, v in got.items()}
        for k, r in med.items():
            print(row(k, r))
        ours, theirs = med["v3 sha/aes128, usm"], med["v3 sha/aes128, pysnmp engine"]
        print(f"  ==> v3 sha/aes128: pysnmp engine / usm CPU per varbind {us_per_vb(theirs) / us_per_vb(ours):.1f} x;"
              f" usm / v2c {us_per_vb(ours) / us_per_vb(med['v2c']):.2f} x;"
              f" usm / snmpbulkwalk {us_per_vb(ours) / us_per_vb(med['net-snmp snmpbulkwalk v3 sha/aes128']):.2f} x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="ciscosb_sg550x-8f8t", help="corpus recording to serve (default: largest)")
    ap.add_argument("--lab", action="store_true", help="also walk the lab's dist snmpd from es-mgmt")
    ap.add_argument("--profile", action="store_true", help="cProfile the collector's walks (one extra run each)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each walk; the median is printed (default 3)")
    ap.add_argument("--v3", action="store_true", help="only SNMPv3 against v2c, on snmpd: usm and pysnmp's engine")
    ap.add_argument("--target", help=argparse.SUPPRESS)  # host:port:community-file (used for --lab)
    a = ap.parse_args()

    if a.target:  # inside es-mgmt: print the results as JSON
        host, port, cfile = a.target.split(":", 2)
        community = Path(cfile).read_text().strip()
        print(json.dumps(measure(host, int(port), community, a.runs, [])))
        return 0
    if a.v3:
        v3(a.runs)
        return 0

    if CORPUS.is_dir():
        with serve_recordings([a.device]) as port:
            if a.profile:
                for what, tables in (("one column, whole recording", [{"whole": WHOLE}]), ("tables", TABLES)):
                    print(f"--- profile of the collector walking {what}")
                    collector("127.0.0.1", port, a.device, tables, profile=True)
            m = measure("127.0.0.1", port, a.device, a.runs, [])
        report(f"snmpsim serving {a.device} (127.0.0.1:{port})", m, a.runs)
    else:
        print(f"corpus not found at {CORPUS}: skipping the snmpsim run")

    if a.lab:
        lab = Path("/run/edge-sensor-lab/lab.json")
        if not lab.exists():
            print("lab is not up (sudo lab/up): skipping the snmpd run")
            return 0
        truth = json.loads(lab.read_text())
        dist = next(s for s in truth["switches"] if s["name"] == "dist")
        res = subprocess.run(["ip", "netns", "exec", "es-mgmt", sys.executable, __file__, "--runs", str(a.runs),
                              "--target",
                              f"{dist['mgmt_ip']}:{dist['snmp_port']}:{truth['credentials']['community_file']}"],
                             capture_output=True, text=True, check=True)
        report(f"lab snmpd on dist ({dist['mgmt_ip']}), from es-mgmt", json.loads(res.stdout.splitlines()[-1]),
               a.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
