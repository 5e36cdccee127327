"""Supervisor, outbox bound and CLI behaviour that needs no broker."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from sensor import log as sensor_log
from sensor.config import load_config
from sensor.errors import SourceError
from sensor.metrics import Metrics
from sensor.observations import device_obs, event_obs
from sensor.publish.outbox import Outbox, read_retained
from sensor.sources import SourceContext
from sensor.supervisor import Supervisor
from tests.conftest import REPO


class Flaky:
    """Fails its first ``failures`` cycles (crash or expected error), then emits one event."""

    continuous = False

    def __init__(self, name: str, failures: int, crash: bool, interval: float = 0.2) -> None:
        self.name = name
        self.failures = failures
        self.crash = crash
        self.interval = interval
        self.deadline = 5.0
        self.calls: list[float] = []

    async def cycle(self, ctx: SourceContext) -> None:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.failures:
            if self.crash:
                raise RuntimeError("boom")
            raise SourceError(f"{self.name}: no answer")
        await ctx.emit(event_obs({"from": self.name, "n": len(self.calls)}, time.time()))


class Slow:
    name = "slow"
    interval = 0.3
    deadline = 0.5
    continuous = False

    def __init__(self) -> None:
        self.calls = 0

    async def cycle(self, ctx: SourceContext) -> None:
        self.calls += 1
        await asyncio.sleep(10)


async def test_crashing_source_is_restarted_with_backoff_others_unaffected(
        write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    sensor_log.configure("info", stream=buf, json=True)
    cfg = load_config(write_config())
    crashy = Flaky("crashy", failures=3, crash=True, interval=60)
    steady = Flaky("steady", failures=0, crash=False, interval=0.2)
    slow = Slow()
    sup = Supervisor(cfg, sources=[crashy, steady, slow])
    sup.retry_base = 0.5
    task = asyncio.create_task(sup.run())
    await asyncio.sleep(6)
    sup.stop_event.set()
    assert await asyncio.wait_for(task, 10) == 0
    # The crashing source ran again and again with growing delays, then worked.
    assert len(crashy.calls) == 4
    gaps = [b - a for a, b in zip(crashy.calls, crashy.calls[1:], strict=False)]
    assert 0.25 <= gaps[0] <= 0.6 and 0.5 <= gaps[1] <= 1.1 and 1.0 <= gaps[2] <= 2.1, gaps
    # The steady one kept its rhythm meanwhile (about every 0.2 s for 6 s).
    assert len(steady.calls) >= 20
    # The slow one was cut at its deadline each time and retried, never piling up.
    assert 3 <= slow.calls <= 12
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    crashes = [x for x in lines if x["event"] == "source crashed; it will be restarted"]
    assert len(crashes) == 3 and all(x["source"] == "crashy" for x in crashes)
    assert "Traceback" in crashes[0].get("exception", "")
    deadline = [x for x in lines if x.get("error", "").startswith("did not finish within its deadline")]
    assert deadline and all(x["source"] == "slow" for x in deadline)
    assert sup.metrics.counters["source_restarts.crashy"] == 3


async def test_outbox_bound_drops_oldest_counts_and_reports(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    sensor_log.configure("info", stream=buf, json=True)
    ob = Outbox(tmp_path / "o.sqlite3", site="s", sensor_id="x", max_messages=100, metrics=Metrics())
    await ob.open()
    for chunk in range(3):
        await ob.append([event_obs({"i": chunk * 60 + i}, time.time()) for i in range(60)])
    assert ob.depth == 100
    assert ob.dropped_total == 80
    assert ob.last_dropped_seq == 80
    rows = await ob.fetch(0, 1000)
    assert [r.seq for r in rows] == list(range(81, 181))
    warn = [json.loads(x) for x in buf.getvalue().splitlines() if "outbox full" in x]
    assert [w["dropped"] for w in warn] == [20, 60] and warn[-1]["dropped_total"] == 80
    await ob.close()
    # Counters survive a restart, like seq.
    ob2 = Outbox(tmp_path / "o.sqlite3", site="s", sensor_id="x", max_messages=100, metrics=Metrics())
    await ob2.open()
    assert (ob2.dropped_total, ob2.last_dropped_seq, ob2.next_seq, ob2.depth) == (80, 80, 181, 100)
    await ob2.close()


async def test_health_reports_drops_and_local_store_keeps_devices(write_config: Callable[..., Path]) -> None:
    cfg = load_config(write_config("[outbox]\nmax_messages = 100\n"))

    class Devices:
        name = "devices"
        interval = 3600.0
        deadline = 10.0
        continuous = False

        async def cycle(self, ctx: SourceContext) -> None:
            for i in range(150):
                await ctx.emit(device_obs(f"00:09:fb:00:00:{i:02x}", {"mac": f"00:09:fb:00:00:{i:02x}"}, time.time()))
            await ctx.emit(device_obs("00:09:fb:00:00:00", None, time.time()))  # forgotten

    sup = Supervisor(cfg, sources=[Devices()])
    assert await sup.run(once=True) == 0
    rows = read_retained(cfg.sensor.state_dir, "health")
    health = msgspec.json.decode(rows[0][1]) if rows else None
    assert health is None  # health is not retained...
    ob = Outbox(Path(cfg.sensor.state_dir) / "outbox.sqlite3", site="lab", sensor_id="test", max_messages=100,
                metrics=Metrics())
    await ob.open()
    last = (await ob.fetch(0, 1000))[-1]
    await ob.close()
    env = json.loads(last.payload)
    assert env["kind"] == "health"  # ...but it is the last message, and it tells about the drops
    assert env["data"]["outbox_dropped_total"] == 51 and env["data"]["outbox_depth"] == 100
    devices = read_retained(cfg.sensor.state_dir, "devices/")
    assert len(devices) == 149  # every device's latest record, minus the forgotten one


def test_help_is_fast_and_version() -> None:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "sensor.cli", "--help"], cwd=REPO, capture_output=True, text=True)
    took = time.perf_counter() - t0
    assert r.returncode == 0 and "check-config" in r.stdout
    assert took < 0.3, f"sensor --help took {took:.2f}s"
    r = subprocess.run([sys.executable, "-m", "sensor.cli", "--version"], cwd=REPO, capture_output=True, text=True)
    assert r.stdout.startswith("edge-sensor ")


def test_inventory_formats(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    cfg_path = write_config()
    cfg = load_config(cfg_path)
    rec = {"mac": "58:42:e4:12:10:21", "vendor": "Baxter International Inc", "ips": [{"ip": "198.18.10.21"}],
           "attachment": {"switch": "sw1", "port": "ge1", "vlan": 10}, "classification": {"device_class": "infusion_pump"},
           "risk": {"score": 61}, "last_seen": "2026-11-23T16:00:00Z"}

    async def seed() -> None:
        ob = Outbox(Path(cfg.sensor.state_dir) / "outbox.sqlite3", site="lab", sensor_id="test", max_messages=1000,
                    metrics=Metrics())
        await ob.open()
        await ob.append([device_obs(rec["mac"], rec, time.time())])
        await ob.close()

    asyncio.run(seed())
    run = lambda *a: subprocess.run([sys.executable, "-m", "sensor.cli", "inventory", "--config", str(cfg_path), *a],  # noqa: E731
                                    cwd=REPO, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    r = run("--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [rec]
    r = run("--csv")
    assert r.stdout.splitlines()[1] == ("sw1,ge1,10,58:42:e4:12:10:21,Baxter International Inc,198.18.10.21,"
                                        "infusion_pump,61,2026-11-23T16:00:00Z,,,no,")
    r = run()
    assert "58:42:e4:12:10:21" in r.stdout and "1 device at" in r.stdout


class Quick:
    """A source whose cycle takes no time: polls end as fast as on a campus of many switches."""

    interval = 0.01
    deadline = 1.0
    continuous = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.cycles = 0

    async def cycle(self, ctx: SourceContext) -> None:
        self.cycles += 1


async def test_status_file_rewrites_are_coalesced_after_polls(write_config: Callable[..., Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every poll asks for status.json; it is rewritten at most once per STATUS_MIN_GAP, the last request
    included (a campus finishes a thousand polls in two minutes, each rewrite covers every switch)."""
    import sensor.statefiles
    import sensor.supervisor

    gap = 0.25
    monkeypatch.setattr(sensor.supervisor, "STATUS_MIN_GAP", gap, raising=False)
    writes: list[tuple[float, str]] = []
    original = sensor.statefiles.write_atomic

    def counting(path: Path, data: bytes, *args: object, **kwargs: object) -> None:
        if path.name == "status.json":
            writes.append((time.monotonic(), json.loads(data)["state"]))
        original(path, data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sensor.statefiles, "write_atomic", counting)
    cfg = load_config(write_config())
    sources = [Quick(f"q{i}") for i in range(3)]
    sup = Supervisor(cfg, sources=sources)  # type: ignore[list-item]
    run = asyncio.create_task(sup.run())
    await asyncio.sleep(1.5)
    sup.stop_event.set()
    assert await run == 0
    cycles = sum(s.cycles for s in sources)
    running = [t for t, state in writes if state == "running"]
    assert cycles >= 60, cycles  # the sources did poll many times...
    # ...and the file was written about once per gap, not once per poll (before: once per poll).
    assert len(running) <= 1.5 / gap + 3, (len(running), cycles)
    # (The health loop's first write comes right after the start's.)
    assert all(b - a >= gap * 0.9 for a, b in itertools.pairwise(running[1:])), running
    assert writes[-1][1] == "stopped"


def test_status_file_switch_entries_are_the_health_as_published(write_config: Callable[..., Path],
                                                                tmp_path: Path) -> None:
    """status.json carries each switch's last health exactly as msgspec renders the struct."""
    from sensor.observations import SwitchHealth

    community = tmp_path / "community"
    community.write_text("public\n")
    community.chmod(0o600)
    body = "".join(f'[[switch]]\nname = "sw{i}"\nhost = "127.0.0.{i + 1}"\n[switch.snmp]\nversion = "2c"\n'
                   f'community_file = "{community}"\n' for i in range(3))
    cfg = load_config(write_config(body))
    sup = Supervisor(cfg)
    (Path(cfg.sensor.state_dir)).mkdir(parents=True, exist_ok=True)
    switches = sup._switches()
    h = SwitchHealth(switch="sw0", host="127.0.0.1", method="snmp", methods={"fdb": "snmp"}, method_errors={},
                     ok=True, last_success="2026-12-02T12:00:00Z", last_error=None, consecutive_failures=0,
                     duration_s=0.5, varbinds=10, requests=2, rows={"dot1dTpFdbTable": 3}, table_rows={"fdb": 3},
                     table_errors=[], notes=["a note"], sys_name="sw0", uplinks=["ge24"], ports=24, ports_up=3,
                     degraded=["why"])
    switches[0].last_health = h
    sup.write_status("running")
    doc = json.loads((Path(cfg.sensor.state_dir) / "status.json").read_text())
    assert doc["switches"]["sw0"] == msgspec.to_builtins(h)
    assert doc["switches"]["sw1"] == {"switch": "sw1", "host": "127.0.0.2", "ok": None}
