"""A whole poll: the Cisco per-VLAN path (community@vlan), the SnmpSource health and errors,
and the ``sensor poll`` command's exit codes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.facts import Snapshot
from collectors.snmp import Credentials, Target, close_engines, poll
from sensor.config import parse_config
from sensor.errors import SourceError
from sensor.metrics import Metrics
from sensor.observations import Observation, SwitchHealth
from sensor.sources import SourceContext, ToCorrelator
from sensor.supervisor import build_sources
from sensor.switches.source import switch_sources
from tests.snmp import agents
from tests.snmp.conftest import write_secret

SENSOR = [sys.executable, "-m", "sensor.cli"]


def snmprec(rows: dict[str, tuple[int | str, str]]) -> str:
    def key(o: str) -> tuple[int, ...]:
        return tuple(int(p) for p in o.split("."))
    return "".join(f"{o}|{t}|{v}\n" for o, (t, v) in sorted(rows.items(), key=lambda kv: key(kv[0])))


BASE = {
    "1.3.6.1.2.1.1.1.0": (4, "Cisco IOS Software, test"),
    "1.3.6.1.2.1.1.2.0": (6, "1.3.6.1.4.1.9.1.1208"),
    "1.3.6.1.2.1.1.3.0": (67, "12345"),
    "1.3.6.1.2.1.1.5.0": (4, "closet-sw"),
    "1.3.6.1.2.1.2.2.1.2.10101": (4, "GigabitEthernet1/0/1"),
    "1.3.6.1.2.1.2.2.1.2.10102": (4, "GigabitEthernet1/0/2"),
    "1.3.6.1.2.1.31.1.1.1.1.10101": (4, "Gi1/0/1"),
    "1.3.6.1.2.1.31.1.1.1.1.10102": (4, "Gi1/0/2"),
    "1.3.6.1.4.1.9.9.46.1.3.1.1.2.1.1": (2, "1"),
    "1.3.6.1.4.1.9.9.46.1.3.1.1.2.1.10": (2, "1"),
    "1.3.6.1.4.1.9.9.46.1.3.1.1.2.1.1002": (2, "1"),
}


def vlan_rec(port: int, ifindex: int, mac: str) -> dict[str, tuple[int | str, str]]:
    m = ".".join(str(int(b, 16)) for b in mac.split(":"))
    return {"1.3.6.1.2.1.1.3.0": (67, "1"),
            f"1.3.6.1.2.1.17.1.4.1.2.{port}": (2, str(ifindex)),
            f"1.3.6.1.2.1.17.4.3.1.2.{m}": (2, str(port)),
            f"1.3.6.1.2.1.17.4.3.1.3.{m}": (2, "3")}


@pytest.fixture(scope="module")
def cisco_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("cisco")
    data = root / "data"
    data.mkdir()
    (data / "cisco.snmprec").write_text(snmprec(BASE))
    # Each VLAN is its own bridge instance, with its own port numbering.
    (data / "cisco@1.snmprec").write_text(snmprec(vlan_rec(5, 10101, "00:09:fb:12:10:22")))
    (data / "cisco@10.snmprec").write_text(snmprec(vlan_rec(7, 10102, "58:42:e4:12:10:21")))
    with agents.snmpsim(data, "cisco") as port:
        yield port


async def test_cisco_per_vlan_fdb_detected_from_sysobjectid_and_vtp(cisco_agent: int) -> None:
    try:
        r = await poll("closet-sw", Target("127.0.0.1", cisco_agent, timeout=3), Credentials("2c", community="cisco"))
    finally:
        close_engines()
    s = r.snapshot
    assert [(f.mac, f.vlan, f.ifindex) for f in s.fdb] == [("00:09:fb:12:10:22", 1, 10101),
                                                           ("58:42:e4:12:10:21", 10, 10102)]
    assert s.errors == () and "dot1dTpFdbTable" in s.tables_ok
    assert any("per-VLAN FDB: walked 2 VLAN(s)" in n for n in s.notes)  # 1002 skipped


@pytest.fixture(scope="module")
def no_context_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Cisco whose VLAN contexts do not answer: only ``nctx`` is served, ``nctx@N`` is not.

    The default context holds VLAN 1's bridge instance, as on a real Catalyst.
    """
    data = tmp_path_factory.mktemp("nctx") / "data"
    data.mkdir()
    (data / "nctx.snmprec").write_text(snmprec({**BASE, **vlan_rec(5, 10101, "00:09:fb:12:10:22")}))
    with agents.snmpsim(data, "nctx") as port:
        yield port


async def test_unanswering_vlan_contexts_keep_the_default_context_and_cost_under_2s(
        cisco_agent: int, no_context_agent: int) -> None:
    async def timed(port: int, community: str) -> tuple[float, Snapshot]:
        started = time.monotonic()
        try:
            r = await poll("closet-sw", Target("127.0.0.1", port, timeout=3), Credentials("2c", community=community))
        finally:
            close_engines()
        return time.monotonic() - started, r.snapshot

    normal, _ = await timed(cisco_agent, "cisco")
    slow, s = await timed(no_context_agent, "nctx")
    # Before: 9 s (3 s x 3 tries) per VLAN context, and the whole table lost.
    print(f"normal poll {normal:.2f} s, unanswering contexts {slow:.2f} s")
    assert slow - normal <= 2.0, (normal, slow)
    assert [(f.mac, f.vlan, f.ifindex) for f in s.fdb] == [("00:09:fb:12:10:22", 1, 10101)]
    st = s.status("fdb")
    assert st is not None and not st.complete and not s.complete("fdb")
    assert [p.kind for p in st.problems] == ["partial"]
    (err,) = [e for e in s.errors if "contexts" in e]
    assert "VLAN(s) 10 could not be read" in err and "snmp-server community COMMUNITY RO" in err


def test_the_vlan_context_fix_names_the_snmpv3_group_line() -> None:
    from collectors.snmp.poll import vlan_context_fix

    fix = vlan_context_fix(Credentials("3", user="sensor", auth_protocol="sha256", auth_key="k" * 8,
                                       priv_protocol="aes128", priv_key="p" * 8))
    assert "snmp-server group GROUP v3 priv context vlan- match prefix" in fix and '"sensor"' in fix


def _vendor_rec(sys_object_id: str, ports: dict[int, str], fdb: dict[str, tuple[int, int]],
                extra: dict[str, tuple[int | str, str]]) -> str:
    """A switch with interfaces, a Q-BRIDGE FDB (mac -> (vlan, bridge port)) and no dot1dBasePortTable."""
    rows: dict[str, tuple[int | str, str]] = {
        "1.3.6.1.2.1.1.1.0": (4, "test"), "1.3.6.1.2.1.1.2.0": (6, sys_object_id),
        "1.3.6.1.2.1.1.3.0": (67, "1"), "1.3.6.1.2.1.1.5.0": (4, "vendor-sw")}
    for ifindex, name in ports.items():
        rows[f"1.3.6.1.2.1.2.2.1.2.{ifindex}"] = (4, name)
        rows[f"1.3.6.1.2.1.31.1.1.1.1.{ifindex}"] = (4, name)
    for mac, (vlan, port) in fdb.items():
        m = ".".join(str(int(b, 16)) for b in mac.split(":"))
        rows[f"1.3.6.1.2.1.17.7.1.2.2.1.2.{vlan}.{m}"] = (2, str(port))
        rows[f"1.3.6.1.2.1.17.7.1.2.2.1.3.{vlan}.{m}"] = (2, "3")
    return snmprec({**rows, **extra})


@pytest.fixture(scope="module")
def vendor_agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Made from the vendors' documentation: a Huawei VRP that keeps its ports in HUAWEI-L2MAM-MIB, a
    TP-Link JetStream whose bridge port N is "gigabitEthernet 1/0/N", and an unknown vendor."""
    data = tmp_path_factory.mktemp("vendors") / "data"
    data.mkdir()
    pump, mon = "58:42:e4:12:10:21", "00:09:fb:12:10:22"
    m = ".".join(str(int(b, 16)) for b in pump.split(":"))
    (data / "huawei.snmprec").write_text(_vendor_rec(
        "1.3.6.1.4.1.2011.2.23.96", {6: "GigabitEthernet0/0/1", 7: "GigabitEthernet0/0/2"},
        {pump: (10, 40), mon: (10, 41)},
        {f"1.3.6.1.4.1.2011.5.25.42.2.1.3.1.4.{m}.10.0": (2, "6")}))
    (data / "jetstream.snmprec").write_text(_vendor_rec(
        "1.3.6.1.4.1.11863.5.118", {49153: "gigabitEthernet 1/0/1", 49155: "gigabitEthernet 1/0/3"},
        {pump: (10, 1), mon: (10, 3)}, {}))
    (data / "other.snmprec").write_text(_vendor_rec(
        "1.3.6.1.4.1.171.10.118.2", {1: "1/1", 2: "1/2"}, {pump: (10, 1), mon: (10, 2)}, {}))
    with agents.snmpsim(data, "huawei") as port:
        yield port


@pytest.mark.parametrize("community, expected, unmapped", [
    ("huawei", {"58:42:e4:12:10:21": 6, "00:09:fb:12:10:22": None}, 1),
    ("jetstream", {"58:42:e4:12:10:21": 49153, "00:09:fb:12:10:22": 49155}, 0),
    # No vendor documents bridge port == ifIndex here: the rows keep no port rather than a guessed one.
    ("other", {"58:42:e4:12:10:21": None, "00:09:fb:12:10:22": None}, 2),
])
async def test_forwarding_rows_without_a_port_mapping(vendor_agents: int, community: str,
                                                      expected: dict[str, int | None], unmapped: int) -> None:
    try:
        r = await poll("vendor-sw", Target("127.0.0.1", vendor_agents, timeout=3), Credentials("2c", community=community))
    finally:
        close_engines()
    s = r.snapshot
    assert {f.mac: f.ifindex for f in s.fdb} == expected
    if unmapped:
        assert any(f"{unmapped} learned forwarding row(s) have no port" in n for n in s.notes), s.notes
    else:
        assert not any("have no port" in n for n in s.notes), s.notes


async def test_vlan_indexing_false_skips_the_per_vlan_walk(cisco_agent: int) -> None:
    try:
        r = await poll("closet-sw", Target("127.0.0.1", cisco_agent, timeout=3), Credentials("2c", community="cisco"),
                       vlan_indexing=False)
    finally:
        close_engines()
    assert r.snapshot.fdb == ()


# --- the source ----------------------------------------------------------------------------


def _config(tmp_path: Path, port: int, community: str, *, extra: str = "") -> str:
    tmp_path.chmod(0o700)
    secret = write_secret(tmp_path / "community", community)
    return f"""
[sensor]
site = "lab"
state_dir = "{tmp_path / 'state'}"

[[switch]]
name = "sw1"
host = "127.0.0.1"
interval = "1m"
deadline = "20s"
{extra}
[switch.snmp]
version = "2c"
port = {port}
community_file = "{secret}"
timeout = "300ms"
retries = 1
"""


async def test_source_emits_snapshot_and_health_then_reports_failures(cisco_agent: int, tmp_path: Path) -> None:
    cfg = parse_config(_config(tmp_path, cisco_agent, "cisco"), str(tmp_path / "sensor.toml"))
    (src,) = build_sources(cfg)
    # The supervisor's deadline is the interval (waiting for a poll slot included); the poll's is the switch's.
    assert (src.name, src.interval, src.deadline, src._poll_budget()) == ("snmp:sw1", 60.0, 60.0, 19.0)
    obs: asyncio.Queue[Observation] = asyncio.Queue()
    snaps: asyncio.Queue[ToCorrelator] = asyncio.Queue()
    ctx = SourceContext(src.name, obs, snaps, Metrics())
    try:
        await src.cycle(ctx)
        # The snapshot, then the health, both to the correlator (which adds port roles and publishes it).
        snap, health = snaps.get_nowait(), snaps.get_nowait()
        assert isinstance(snap, Snapshot) and isinstance(health, SwitchHealth) and obs.empty()
        assert snap.switch == "sw1" and len(snap.fdb) == 2
        assert health.ok and health.last_error is None and health.varbinds > 0
        assert health.rows["ifXTable"] == 2 and health.consecutive_failures == 0
        assert ctx.metrics.counters["polls"] == 1 and ctx.metrics.counters["varbinds"] > 0
        # Without a correlator the health is published directly, retained.
        direct = SourceContext(src.name, obs, None, Metrics())
        await direct.switch_health(health, 1.0)
        published = obs.get_nowait()
        assert published.topic == "switches/sw1" and published.retain and published.data is health

        # The community changes under the sensor: the next cycles fail, say why, and count.
        (tmp_path / "community").write_text("wrong\n")
        for n in (1, 2):
            with pytest.raises(SourceError, match=r"no answer from 127\.0\.0\.1"):
                await src.cycle(ctx)
            h = snaps.get_nowait()
            assert isinstance(h, SwitchHealth) and not h.ok and h.consecutive_failures == n
            assert h.last_success == health.last_success and h.last_error and "no answer" in h.last_error
        assert snaps.empty() and ctx.metrics.counters["poll_errors"] == 2
    finally:
        close_engines()


async def test_one_poll_in_flight_per_switch_and_a_global_limit(tmp_path: Path) -> None:
    started: list[int] = []

    def slow(kind: str, asked: list[tuple[tuple[int, ...], Any]], reps: int) -> Any:
        started.append(1)
        return None  # never answers; the source's deadline ends the poll

    async with agents.fake_agent(slow) as (_, port):
        body = _config(tmp_path, port, "c")
        cfg = parse_config(body, "t.toml")
        limiter_sources = switch_sources(list(cfg.switch) * 2, max_concurrent=1)
        ctx = SourceContext("x", asyncio.Queue(), None, Metrics())
        a, b = limiter_sources
        t1 = asyncio.create_task(a.cycle(ctx))
        await asyncio.sleep(0.05)
        await a.cycle(ctx)  # same switch still polling: skipped, not stacked
        assert ctx.metrics.counters["polls_skipped"] == 1
        t2 = asyncio.create_task(b.cycle(ctx))  # other switch waits for the global slot
        await asyncio.sleep(0.2)
        assert ctx.metrics.counters["polls"] == 1
        for t in (t1, t2):
            with pytest.raises(SourceError):
                await t
        assert ctx.metrics.counters["polls"] == 2
    close_engines()


async def test_waiting_for_a_poll_slot_does_not_count_against_the_deadline(tmp_path: Path) -> None:
    """A campus: in the first cycle the last of a thousand switches wait minutes for one of the
    max_concurrent_switches slots; the switch's deadline bounds its poll, not its place in the queue."""

    def silent(kind: str, asked: list[tuple[tuple[int, ...], Any]], reps: int) -> Any:
        return None  # never answers: each poll ends on its own timeout, 4 x 400 ms

    async with agents.fake_agent(silent) as (_, port):
        body = _config(tmp_path, port, "c").replace('deadline = "20s"', 'deadline = "3s"')
        cfg = parse_config(body.replace("retries = 1", "retries = 3").replace('"300ms"', '"400ms"'), "t.toml")
        a, b = switch_sources(list(cfg.switch) * 2, max_concurrent=1)
        ctx = SourceContext("x", asyncio.Queue(), None, Metrics())

        async def as_the_supervisor_runs_it(src: Any) -> None:
            async with asyncio.timeout(src.deadline):
                await src.cycle(ctx)

        results = await asyncio.gather(as_the_supervisor_runs_it(a), as_the_supervisor_runs_it(b),
                                       return_exceptions=True)
        # b waited 1.6 s for the slot, then polled 1.6 s of its 3 s: it ends on the switch's own error
        # (its poll's, or on a loaded machine its poll budget's), not cut by the supervisor's deadline.
        assert all(isinstance(r, SourceError) for r in results), results
    close_engines()


# --- the command --------------------------------------------------------------------------


def test_poll_command_exit_codes(cisco_agent: int, tmp_path: Path) -> None:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(_config(tmp_path, cisco_agent, "cisco"))
    ok = subprocess.run([*SENSOR, "poll", "--config", str(cfg), "sw1", "--json"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["system"]["sys_name"] == "closet-sw"
    people = subprocess.run([*SENSOR, "poll", "--config", str(cfg), "sw1"], capture_output=True, text=True)
    assert people.returncode == 0 and "Forwarding table (2, via snmp)" in people.stdout

    unknown = subprocess.run([*SENSOR, "poll", "--config", str(cfg), "nope"], capture_output=True, text=True)
    assert unknown.returncode == 2 and 'no [[switch]] named "nope" (switches: sw1)' in unknown.stderr

    bad = tmp_path / "bad.toml"
    bad.write_text(cfg.read_text().replace('version = "2c"', 'version = "v2"'))
    r = subprocess.run([*SENSOR, "poll", "--config", str(bad), "sw1"], capture_output=True, text=True)
    assert r.returncode == 2 and "switch[1].snmp.version" in r.stderr and "Traceback" not in r.stderr

    down = tmp_path / "down.toml"
    down.write_text(cfg.read_text().replace(f"port = {cisco_agent}", f"port = {agents.free_udp_port()}"))
    r = subprocess.run([*SENSOR, "poll", "--config", str(down), "sw1", "--json"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("sensor poll: sw1: no answer from 127.0.0.1:")
