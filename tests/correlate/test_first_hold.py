"""The first correlation waits for every polled switch: one record per device, with its addresses.

The switches' polls here are fakes that hand the stage the lab's snapshots (tests/correlate/factory.py)
at set times: the tests are about when the stage correlates, and no agent here answers one switch a
set time after another. The polls themselves are tested against snmpsim/snmpd in tests/snmp.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import msgspec

from collectors.facts import Snapshot
from sensor.config import Config, load_config
from sensor.correlate.stage import CorrelatorStage
from sensor.metrics import Metrics
from sensor.observations import Observation
from sensor.sources import SourceContext, ToCorrelator
from sensor.supervisor import Supervisor
from sensor.switches.source import SwitchSource
from tests.correlate.factory import DEVICE_PORT, IPS, PHONE, dist, sw1
from tests.correlate.test_stage import _health, _published

SWITCHES = ("sw1", "dist", "sw9")


def _config(write_config: Callable[..., Path], tmp_path: Path, names: tuple[str, ...] = SWITCHES) -> Config:
    community = tmp_path / "community"
    community.write_text("public\n")
    os.chmod(community, 0o600)
    body = "".join(f'[[switch]]\nname = "{n}"\nhost = "127.0.0.{i + 2}"\ninterval = "10m"\n'
                   f'[switch.snmp]\ncommunity_file = "{community}"\n' for i, n in enumerate(names))
    return load_config(write_config('[correlation]\nabsence = "30m"\n' + body))


class Timed(SwitchSource):
    """A polled switch (so the supervisor waits for it) whose poll hands over ``snap`` after ``delay`` s."""

    def __init__(self, cfg: Config, name: str, snap: Snapshot, delay: float) -> None:
        super().__init__(next(s for s in cfg.switch if s.name == name), asyncio.Semaphore(4))
        self.snap, self.delay = snap, delay

    async def cycle(self, ctx: SourceContext) -> None:
        await asyncio.sleep(self.delay)
        await ctx.snapshot(self.snap)
        await ctx.switch_health(_health(self.switch.name), self.snap.taken_at)


def _device_messages(msgs: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for m in msgs:
        if m["kind"] == "device":
            data = m["data"]
            assert isinstance(data, dict)
            out.setdefault(str(data["mac"]), []).append(data)
    return out


async def test_access_switch_before_its_distribution_switch_gives_one_record_per_device(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    # sw1's forwarding table first, dist's ARP table 0.3 s later (the lab: 29 ms): correlated as they
    # came, every device went out twice, first without its address.
    cfg = _config(write_config, tmp_path, ("sw1", "dist"))
    sup = Supervisor(cfg, sources=[Timed(cfg, "sw1", sw1(1001.0), 0.0), Timed(cfg, "dist", dist(1000.0), 0.3)])
    assert await sup.run(once=True) == 0
    records = _device_messages(await _published(cfg.sensor.state_dir))
    assert set(records) >= set(IPS)
    for mac, recs in records.items():
        assert len(recs) == 1, f"{mac} published {len(recs)} times"
    for mac, ip in IPS.items():
        assert ip in str(records[mac][0]["ips"]), records[mac][0]
    assert sup.metrics.gauges["first_correlation_switches"] == 2


class Silent(Timed):
    """A polled switch whose cycle ends without a word (as one cancelled by its deadline does)."""

    async def cycle(self, ctx: SourceContext) -> None:
        await asyncio.sleep(self.delay)


async def test_run_once_does_not_wait_for_a_switch_that_never_reports(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    cfg = _config(write_config, tmp_path)  # the wait would be 2 minutes (10-minute intervals)
    sup = Supervisor(cfg, sources=[Timed(cfg, "sw1", sw1(1001.0), 0.0), Timed(cfg, "dist", dist(1000.0), 0.1),
                                   Silent(cfg, "sw9", sw1(1002.0, name="sw9"), 0.2)])
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await sup.run(once=True) == 0
    assert loop.time() - started < 10.0
    records = _device_messages(await _published(cfg.sensor.state_dir))
    assert set(records) >= set(IPS) and {len(r) for r in records.values()} == {1}
    assert sup.metrics.gauges["first_correlation_switches"] == 2


def _stage(cfg: Config, state: Path | None = None, *, hold: float) -> tuple[
        CorrelatorStage, asyncio.Queue[ToCorrelator], list[Observation]]:
    committed: list[Observation] = []

    async def commit(obs: list[Observation]) -> None:
        committed.extend(obs)

    snapshots: asyncio.Queue[ToCorrelator] = asyncio.Queue(100)
    stage = CorrelatorStage(cfg, snapshots, asyncio.Queue(), Metrics(), clock=lambda: 3000.0, commit=commit,
                            expect=[s.name for s in cfg.switch], hold=hold)
    return stage, snapshots, committed


def _records(obs: list[Observation]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in obs:
        if o.kind == "device":
            counts[o.topic.removeprefix("devices/")] = counts.get(o.topic.removeprefix("devices/"), 0) + 1
    return counts


async def test_a_switch_that_never_reports_holds_the_first_correlation_only_until_the_deadline(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    cfg = _config(write_config, tmp_path)  # sw9 never answers, not even with a failed poll
    stage, snapshots, committed = _stage(cfg, hold=0.5)
    task = asyncio.create_task(stage.run())
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await snapshots.put(sw1(1001.0))
        await snapshots.put(_health("sw1"))
        await asyncio.sleep(0.1)
        await snapshots.put(dist(1000.0))
        await snapshots.put(_health("dist"))
        await asyncio.sleep(0.2)
        assert committed == []  # still waiting for sw9
        await asyncio.wait_for(snapshots.join(), 5)
        took = loop.time() - started
    finally:
        task.cancel()
    assert 0.4 <= took < 2.0, took
    counts = _records(committed)
    assert set(counts) >= set(IPS) and set(counts.values()) == {1}, counts
    assert stage.metrics.gauges["first_correlation_switches"] == 2


async def test_a_failed_poll_counts_as_reported(write_config: Callable[..., Path], tmp_path: Path) -> None:
    cfg = _config(write_config, tmp_path)
    stage, snapshots, _ = _stage(cfg, hold=30.0)
    task = asyncio.create_task(stage.run())
    try:
        for snap in (sw1(1001.0), dist(1000.0)):
            await snapshots.put(snap)
            await snapshots.put(_health(snap.switch))
        failed = _health("sw9")
        await snapshots.put(msgspec.structs.replace(failed, ok=False, last_error="timeout"))
        await asyncio.wait_for(snapshots.join(), 5)  # not the 30 s deadline
        # Then the usual pause logic: a later snapshot is correlated without waiting for anyone.
        await snapshots.put(sw1(1601.0, {m: p for m, p in DEVICE_PORT.items() if m != next(iter(IPS))}))
        await asyncio.wait_for(snapshots.join(), 5)
    finally:
        task.cancel()
    assert stage.metrics.gauges["first_correlation_switches"] == 3
    assert stage.metrics.counters["snapshots_correlated"] == 3
    assert stage.observations.qsize() == 3  # every switch's health, the failed one's too


async def test_restart_with_state_does_not_republish_devices_of_a_switch_not_yet_polled(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    cfg = _config(write_config, tmp_path, ("sw1", "dist"))
    # Without the phone: its neighbour (LLDP) comes from sw1's current table only, so its record
    # changes whenever sw1 is missing from the view, with or without the wait (the same on main).
    where = {m: p for m, p in DEVICE_PORT.items() if m != PHONE}
    stage, snapshots, committed = _stage(cfg, hold=5.0)
    task = asyncio.create_task(stage.run())
    try:
        for snap in (sw1(1001.0, where), dist(1000.0, where)):
            await snapshots.put(snap)
            await snapshots.put(_health(snap.switch))
        await asyncio.wait_for(snapshots.join(), 5)
    finally:
        task.cancel()
    assert set(_records(committed)) == set(where)

    # Restarted: dist answers (its ARP table still has the devices, its forwarding table no longer
    # does), sw1, where they are attached, does not before the deadline.
    stage, snapshots, committed = _stage(cfg, hold=0.3)
    task = asyncio.create_task(stage.run())
    try:
        await snapshots.put(dist(1600.0, macs=[], arp={m: ip for m, ip in IPS.items() if m in where}))
        await snapshots.put(_health("dist"))
        await asyncio.wait_for(snapshots.join(), 5)
    finally:
        task.cancel()
    assert stage.correlator is not None
    devices = stage.correlator.state.devices
    assert all(devices[m].present for m in where)
    assert not [o for o in committed if o.kind in ("device", "event")], [(o.kind, o.topic) for o in committed]
