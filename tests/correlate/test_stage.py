"""The stage inside the supervisor, the shipped schemas, and what `sensor inventory` shows."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from sensor.commands import inventory, schema
from sensor.config import load_config
from sensor.correlate.model import DeviceEvent, DeviceRecord
from sensor.metrics import Metrics
from sensor.observations import Envelope, SwitchHealth
from sensor.publish.outbox import Outbox
from sensor.sources import SourceContext
from sensor.supervisor import Supervisor
from tests.correlate.factory import MON, PUMP, SW1_BASE, WS, dist, sw1
from tests.support.schemas import validate_message


class Snapshots:
    """A source that hands the correlator the lab's two snapshots."""

    name = "lab-snapshots"
    interval = 3600.0
    deadline = 10.0
    continuous = False

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    async def cycle(self, ctx: SourceContext) -> None:
        await ctx.snapshot(dist(self.t))
        await ctx.snapshot(sw1(self.t + 1))


async def _published(cfg_state: str) -> list[dict[str, object]]:
    ob = Outbox(Path(cfg_state) / "outbox.sqlite3", site="lab", sensor_id="test", max_messages=10_000,
                metrics=Metrics())
    await ob.open()
    try:
        rows = await ob.fetch(0, 10_000)
    finally:
        await ob.close()
    return [json.loads(r.payload) for r in rows]


DEVICE_ENV = msgspec.json.Decoder(Envelope)


def _validate(env: dict[str, object]) -> None:
    """Every device/event message decodes strictly into the struct its shipped schema was made from."""
    raw = msgspec.json.encode(env["data"])
    if env["kind"] == "device" and env["data"] is not None:
        msgspec.json.decode(raw, type=DeviceRecord, strict=True)
    elif env["kind"] == "event":
        msgspec.json.decode(raw, type=DeviceEvent, strict=True)


async def test_run_once_correlates_every_snapshot_before_health(write_config: Callable[..., Path]) -> None:
    cfg = load_config(write_config('[correlation]\nabsence = "30m"\n'))
    sup = Supervisor(cfg, sources=[Snapshots()])
    assert await sup.run(once=True) == 0
    msgs = await _published(cfg.sensor.state_dir)
    kinds = [m["kind"] for m in msgs]
    assert kinds[-1] == "health"
    assert kinds.count("device") == 6 and kinds.count("event") == 6
    for m in msgs:
        _validate(m)
    assert (Path(cfg.sensor.state_dir) / "correlation.state").exists()
    devices = {d["mac"]: d for d in inventory.load_devices(cfg.sensor.state_dir)}
    assert devices[PUMP]["attachment"]["port"] == "ge1"
    assert devices[PUMP]["classification"]["device_class"] == "infusion_pump"
    assert "flat_network" in {f["name"] for f in devices[PUMP]["risk"]["factors"]}

    # a second run with nothing new publishes no device records and no events (state survived)
    sup = Supervisor(cfg, sources=[Snapshots(2000.0)])
    assert await sup.run(once=True) == 0
    msgs2 = await _published(cfg.sensor.state_dir)
    assert [m["kind"] for m in msgs2[len(msgs):]] == ["health"]


class SnapshotsWithHealth(Snapshots):
    """As the switch source does: each snapshot, then its poll health."""

    async def cycle(self, ctx: SourceContext) -> None:
        for snap in (dist(self.t), sw1(self.t + 1)):
            await ctx.snapshot(snap)
            await ctx.switch_health(_health(snap.switch), self.t)


def _health(name: str) -> SwitchHealth:
    return SwitchHealth(switch=name, host="192.0.2.1", method="snmp", methods={}, method_errors={}, ok=True,
                        last_success=None, last_error=None, consecutive_failures=0, duration_s=0.1, varbinds=0,
                        requests=0, rows={}, table_rows={}, table_errors=[], notes=[], sys_name=name,
                        uplinks=[], ports=None, ports_up=None)


async def test_switch_health_carries_the_port_roles_the_correlator_detected(
        write_config: Callable[..., Path]) -> None:
    cfg = load_config(write_config())
    assert await Supervisor(cfg, sources=[SnapshotsWithHealth()]).run(once=True) == 0
    switches = {m["data"]["switch"]: m["data"] for m in await _published(cfg.sensor.state_dir)
                if m["kind"] == "switch"}
    roles = {r["port"]: r for r in switches["sw1"]["port_roles"]}  # type: ignore[index]
    # Not configured anywhere: ge24 is an uplink because its LLDP neighbour is the polled switch dist.
    assert roles["ge24"]["role"] == "uplink" and any("dist" in e for e in roles["ge24"]["evidence"])
    assert roles["ge1"]["role"] == "access" and roles["ge1"]["macs"] == 1
    assert roles["ge4"]["role"] == "phone"  # the PC behind the phone attaches there too
    assert {r["role"] for r in switches["dist"]["port_roles"]} >= {"uplink"}  # type: ignore[index]


async def test_inventory_filters(write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config()
    cfg = load_config(path)
    assert await Supervisor(cfg, sources=[Snapshots()]).run(once=True) == 0
    capsys.readouterr()

    def inv(*extra: str) -> list[dict[str, object]]:
        p = argparse.ArgumentParser()
        inventory.configure(p)
        assert inventory.run(p.parse_args(["--config", str(path), "--json", *extra])) == 0
        return json.loads(capsys.readouterr().out)

    assert len(inv()) == 6
    assert [d["mac"] for d in inv("--class", "infusion_pump")] == [PUMP]
    assert {d["mac"] for d in inv("--medical")} == {PUMP, MON}
    assert {d["mac"] for d in inv("--min-risk", "50")} == {PUMP, MON}
    assert {d["attachment"]["switch"] for d in inv("--switch", "sw1")} == {"sw1"}  # type: ignore[index]
    p = argparse.ArgumentParser()
    inventory.configure(p)
    # A switch neither configured nor in the store is refused, with the known ones (issue 17).
    assert inventory.run(p.parse_args(["--config", str(path), "--json", "--switch", "dist"])) == 2
    assert 'unknown switch "dist"' in capsys.readouterr().err
    p = argparse.ArgumentParser()
    inventory.configure(p)
    assert inventory.run(p.parse_args(["--config", str(path), "--csv", "--class", "workstation"])) == 0
    out = capsys.readouterr().out
    assert WS in out and "sw1,ge3,10" in out


class SnapshotsOverCli(Snapshots):
    """sw1 polled by a method that gives no bridge address (CLI); dist's LLDP table names its chassis."""

    async def cycle(self, ctx: SourceContext) -> None:
        snap = sw1(self.t + 1)
        assert snap.system is not None
        await ctx.snapshot(dist(self.t))
        await ctx.snapshot(msgspec.structs.replace(snap, system=msgspec.structs.replace(snap.system, base_mac=None)))


async def test_published_records_name_a_switch_without_bridge_address_by_its_chassis_id(
        write_config: Callable[..., Path]) -> None:
    cfg = load_config(write_config())
    assert await Supervisor(cfg, sources=[SnapshotsOverCli()]).run(once=True) == 0
    msgs = await _published(cfg.sensor.state_dir)
    atts = {m["data"]["mac"]: m["data"]["attachment"] for m in msgs if m["kind"] == "device"}  # type: ignore[index]
    assert len(atts) == 6
    for m in msgs:
        if m["kind"] in ("device", "event"):
            validate_message(f"edge-sensor/v1/lab/test/{m['kind']}", json.dumps(m).encode())
    assert {(a["switch"], a["switch_id"]) for a in atts.values()} == {("sw1", SW1_BASE)}  # type: ignore[index]
    assert {d["attachment"]["switch_id"] for d in inventory.load_devices(cfg.sensor.state_dir)} == {SW1_BASE}


def test_shipped_schemas_equal_the_generated_ones() -> None:
    for name in schema.NAMES:
        assert schema.shipped(name) == schema.render(name), (
            f"sensor/schemas/{name}.json is stale: run `python -m sensor.commands.schema`")


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    from sensor.cli import main

    assert main(["schema", "device"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # The whole envelope, with the device record as its data.
    assert doc["$ref"] == "#/$defs/DeviceMessage" and "DeviceRecord" in doc["$defs"]
    assert doc["$defs"]["DeviceMessage"]["properties"]["data"] == {"$ref": "#/$defs/DeviceRecord"}
    assert main(["schema"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"status", "health", "switch", "device", "event", "flows", "register", "policy"}


async def test_a_batch_counts_as_correlated_only_once_its_records_are_committed(
        write_config: Callable[..., Path]) -> None:
    # bench/campus.py (and anyone watching health) ends a cycle when snapshots_correlated reaches the
    # polls with the outbox empty: counted before the commit, the cycle ended while records were
    # still on their way.
    import asyncio

    from sensor.correlate.stage import CorrelatorStage

    cfg = load_config(write_config())
    metrics = Metrics()
    seen_at_commit: list[int] = []

    async def commit(obs: list[object]) -> None:
        seen_at_commit.append(int(metrics.counters.get("snapshots_correlated", 0)))

    snapshots: asyncio.Queue[object] = asyncio.Queue()
    stage = CorrelatorStage(cfg, snapshots, asyncio.Queue(), metrics, clock=lambda: 1000.0,  # type: ignore[arg-type]
                            commit=commit)  # type: ignore[arg-type]
    task = asyncio.create_task(stage.run())
    await snapshots.put(dist(1000.0))
    await snapshots.put(sw1(1001.0))
    await asyncio.wait_for(snapshots.join(), 10)
    task.cancel()
    assert seen_at_commit and seen_at_commit[0] == 0, seen_at_commit
    assert metrics.counters["snapshots_correlated"] == 2
