"""A full state disk (issue 14, item 1), on a real small file system (tmpfs, mounted as root).

The sensor runs in-process with the hub down; the disk fills while device records are being
committed; the sensor must wait with one clear error instead of crashing, stop cleanly, start
again on the still-full disk without crashing, and once there is room again a real Mosquitto must
get every device record and its "appeared" event, with seq contiguous from 1.

The switches are not what this test is about, so its source hands the correlator snapshots built
from facts (as tests/correlate does), as a poll of real switches would.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collectors.facts import FdbEntry, Interface, Snapshot, SwitchInfo
from sensor import log as sensor_log
from sensor.config import load_config
from sensor.correlate.store import load_state, state_path
from sensor.sources import SourceContext
from sensor.supervisor import Supervisor
from tests.conftest import REPO
from tests.support.mosquitto import Mosquitto
from tests.support.subscriber import Subscriber

SWITCHES, PER_SWITCH = 5, 60
TOTAL = SWITCHES * PER_SWITCH


def mac_of(k: int, i: int) -> str:
    return f"00:09:fb:{k:02x}:{i // 256:02x}:{i % 256:02x}"  # Philips: medical OUI


def access(k: int, t: float) -> Snapshot:
    name = f"acc{k}"
    ifaces = tuple(Interface(switch=name, ifindex=i + 1, name=f"ge{i + 1}", phys_address=f"94:18:82:{k:02x}:00:{i:02x}")
                   for i in range(PER_SWITCH))
    fdb = tuple(FdbEntry(switch=name, ifindex=i + 1, vlan=10, mac=mac_of(k, i)) for i in range(PER_SWITCH))
    return Snapshot(switch=name, taken_at=t, method="snmp",
                    system=SwitchInfo(switch=name, sys_name=name, base_mac=f"94:18:82:{k:02x}:ff:00"),
                    interfaces=ifaces, fdb=fdb)


class Closet:
    """Access switches full of devices; one more switch answers at every cycle."""

    name = "closet"
    interval = 0.3
    deadline = 60.0
    continuous = False

    def __init__(self, *, all_at_once: bool = False) -> None:
        self.cycles = SWITCHES if all_at_once else 0

    async def cycle(self, ctx: SourceContext) -> None:
        self.cycles += 1
        for k in range(min(self.cycles, SWITCHES)):
            await ctx.snapshot(access(k, time.time()))


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> int:
    """Write ``path`` until the file system refuses; returns the bytes written."""
    chunk = b"\0" * 65536
    n = 0
    with open(path, "wb", buffering=0) as fh:
        while True:
            try:
                fh.write(chunk)
                n += len(chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                break
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 512)
                n += 512
    return n


def state_and_store(state: Path) -> tuple[set[str], set[str]]:
    known = set(load_state(state_path(state)).devices)
    db = sqlite3.connect(f"file:{state / 'outbox.sqlite3'}?mode=ro", uri=True)
    try:
        stored = {r[0].removeprefix("devices/") for r in db.execute("SELECT topic FROM retained")
                  if r[0].startswith("devices/")}
    finally:
        db.close()
    return known, stored


SENSOR = [sys.executable, "-m", "sensor.cli"]


def run_on_full_disk(config: str) -> subprocess.CompletedProcess[str]:
    """``sensor run`` for 4 s, then SIGTERM; what it said and how it ended."""
    p = subprocess.Popen([*SENSOR, "run", "--config", config], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(4)
        assert p.poll() is None, f"sensor run exited on a full disk: {p.communicate()[0]}"
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return subprocess.CompletedProcess(p.args, p.returncode, "", out)


async def until(cond: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.1)
    return cond()


async def test_full_state_disk_waits_recovers_and_loses_nothing(tmp_path: Path,
                                                                write_config: Callable[..., Path]) -> None:
    buf = io.StringIO()
    sensor_log.configure("info", stream=buf, json=True)
    broker = Mosquitto(tmp_path / "broker")  # not started yet: the hub is down
    cfg = load_config(write_config(mqtt_port=broker.port))
    state = Path(cfg.sensor.state_dir)
    filler = state / "filler"
    with small_disk(state, "16m"):
        # 1. Running: the first switch's devices are committed, then the disk fills up.
        sup = Supervisor(cfg, sources=[Closet()])
        sup.store_backoff = (0.2, 1.0)
        task = asyncio.create_task(sup.run())
        assert await until(lambda: sup.metrics.counters.get("device_records_published", 0) >= PER_SWITCH, 30)
        written = await asyncio.to_thread(fill, filler)
        assert written > 0
        await until(lambda: task.done() or getattr(sup, "store_error", None) is not None, 20)
        assert not task.done(), f"the sensor stopped on a full disk: {task.exception()!r}"
        assert sup.store_error is not None, "the full disk was not noticed"
        assert "full" in (sup.store_error or "")
        assert sup.health_data().outbox_error == sup.store_error
        await asyncio.sleep(3)
        assert not task.done(), f"the sensor stopped on a full disk: {task.exception() if task.done() else ''}"
        committed_before = sup.metrics.counters.get("device_records_published", 0)
        assert committed_before < TOTAL, "the disk filled too late to matter"
        # 2. Stopped on the full disk: promptly, without an exception.
        sup.stop_event.set()
        assert await asyncio.wait_for(task, 15) == 0
        # State and outbox moved together: every device the state knows has its record in the store.
        known, stored = await asyncio.to_thread(state_and_store, state)
        assert known and known == stored, f"{len(known)} devices in the state, {len(stored)} in the outbox"
        print(f"after stopping on the full disk: {len(known)} devices in the state, {len(stored)} in the outbox")
        # The real service on the still-full disk (as systemd would restart it): it waits, one clear
        # error, and stops cleanly on SIGTERM; a script's --once gives up with the reason, exit 1.
        service = await asyncio.to_thread(run_on_full_disk, cfg.path)
        assert service.returncode == 0 and "Traceback" not in service.stderr, service.stderr
        assert "is full" in service.stderr, service.stderr
        once = await asyncio.to_thread(subprocess.run, [*SENSOR, "run", "--once", "--drain-timeout", "2", "--config",
                                                        cfg.path], capture_output=True, text=True, timeout=60)
        assert once.returncode == 1 and "Traceback" not in once.stderr, once.stderr
        assert "is full" in once.stderr.splitlines()[-1] and "gave up after 2s" in once.stderr, once.stderr
        # 3. Started again on the still-full disk: it waits, it does not crash.
        sup2 = Supervisor(cfg, sources=[Closet()])
        sup2.store_backoff = (0.2, 1.0)
        task2 = asyncio.create_task(sup2.run())
        try:
            assert await until(lambda: sup2.store_error is not None, 20), "the full disk was not noticed at start"
            await asyncio.sleep(3)
            assert not task2.done(), f"the sensor stopped on a full disk: {task2.exception() if task2.done() else ''}"
            # 4. Room again: it carries on by itself; the hub comes back and gets everything.
            await asyncio.to_thread(filler.unlink)
            assert await until(lambda: sup2.store_error is None, 30), "did not recover when space returned"
            broker.start()
            sub = Subscriber(broker.port)
            try:
                def complete() -> bool:
                    devices = {e["data"]["mac"] for e in sub.envelopes() if e.get("kind") == "device" and e["data"]}
                    appeared = {e["data"]["mac"] for e in sub.envelopes("/events")
                                if e["data"].get("event") == "appeared"}
                    return len(devices) >= TOTAL and len(appeared) >= TOTAL

                got = await asyncio.to_thread(sub.wait_for, complete, 60)
                envs = sub.envelopes()
                devices = {e["data"]["mac"] for e in envs if e.get("kind") == "device" and e["data"]}
                appeared = {e["data"]["mac"] for e in sub.envelopes("/events") if e["data"].get("event") == "appeared"}
                expected = {mac_of(k, i) for k in range(SWITCHES) for i in range(PER_SWITCH)}
                assert got, f"{len(devices)} device records and {len(appeared)} appeared events of {TOTAL}"
                assert devices == expected and appeared == expected
                seqs = sorted(set(sub.seqs()))
                assert seqs == list(range(1, seqs[-1] + 1)), "seq must be contiguous"
                by_seq: dict[int, str] = {}
                for e in envs:
                    if e.get("seq") is not None:
                        assert by_seq.setdefault(e["seq"], json.dumps(e, sort_keys=True)) == json.dumps(
                            e, sort_keys=True), f"seq {e['seq']} carried two different messages"
                print(f"committed before the disk filled: {committed_before} records; delivered: {len(devices)} "
                      f"devices, {len(appeared)} appeared events, seq 1..{seqs[-1]} contiguous")
            finally:
                sub.close()
        finally:
            sup2.stop_event.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task2, 15)
            broker.stop()
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert not [x for x in lines if "exception" in x], [x for x in lines if "exception" in x][:1]
    errors = [x["event"] for x in lines if x.get("level") == "error"]
    assert any("is full" in e for e in errors), errors


def _lose_the_commits(state: Path) -> None:
    """What an older version left after a full disk: the state knows the devices, the outbox does not."""
    db = sqlite3.connect(state / "outbox.sqlite3")
    db.execute("DELETE FROM outbox")
    db.execute("DELETE FROM retained")
    db.commit()
    db.close()


async def test_devices_known_to_the_state_but_not_in_the_outbox_are_published_again(
        tmp_path: Path, write_config: Callable[..., Path]) -> None:
    broker = Mosquitto(tmp_path / "broker")  # down for the first run
    cfg = load_config(write_config(mqtt_port=broker.port))
    assert await Supervisor(cfg, sources=[Closet(all_at_once=True)]).run(once=True, drain_timeout=0.5) == 1
    state = Path(cfg.sensor.state_dir)
    await asyncio.to_thread(_lose_the_commits, state)
    broker.start()
    try:
        sub = Subscriber(broker.port)
        try:
            sup = Supervisor(cfg, sources=[Closet(all_at_once=True)])
            assert await sup.run(once=True, drain_timeout=30) == 0, sup.exit_reason
            expected = {mac_of(k, i) for k in range(SWITCHES) for i in range(PER_SWITCH)}

            def seen() -> tuple[set[str], set[str]]:
                devices = {e["data"]["mac"] for e in sub.envelopes() if e.get("kind") == "device" and e["data"]}
                appeared = {e["data"]["mac"] for e in sub.envelopes("/events") if e["data"].get("event") == "appeared"}
                return devices, appeared

            await asyncio.to_thread(sub.wait_for, lambda: seen() == (expected, expected), 20)
            devices, appeared = seen()
            assert (len(devices), len(appeared)) == (TOTAL, TOTAL)
            assert sup.metrics.counters.get("devices_reconciled") == TOTAL
        finally:
            sub.close()
    finally:
        broker.stop()
