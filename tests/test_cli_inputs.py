"""Hostile or missing inputs on the command line (issue 14, items 8 and 9): a clear error naming the input,
the other inputs still read, never a traceback; state files private."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sensor.config import FlowsSection, load_config
from sensor.flows.source import FlowSource
from sensor.metrics import Metrics
from sensor.observations import device_obs
from sensor.publish.outbox import Outbox
from sensor.supervisor import Supervisor
from tests.conftest import REPO

FDB_JSON = b'[{"mac": "58:42:e4:12:10:21", "ifname": "swp1", "vlan": 10, "master": "br0", "state": "reachable"}]'


def sensor(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sensor.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def test_parse_deeply_nested_json_is_an_error_and_the_other_files_are_read(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 200_000)
    good = tmp_path / "fdb.json"
    good.write_bytes(FDB_JSON)
    r = sensor("parse", "-p", "linux", "-C", "bridge -j fdb show", str(nested), str(good), "--json")
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1
    assert f"{nested}: output looks like JSON but is nested too deeply" in r.stderr
    assert "58:42:e4:12:10:21" in r.stdout  # the good file after the bad one was still parsed


def test_parse_and_flows_decode_refuse_endless_input() -> None:
    r = sensor("parse", "-p", "linux", "-C", "bridge -j fdb show", "/dev/zero", timeout=60)
    assert "Traceback" not in r.stderr and r.returncode == 1
    assert "/dev/zero: larger than 67,108,864 bytes" in r.stderr
    r = sensor("flows", "decode", "/dev/zero", timeout=60)
    assert "Traceback" not in r.stderr and r.returncode == 1
    assert "/dev/zero: larger than 65,535 bytes" in r.stderr


def _seed(state_dir: str, macs: list[str]) -> None:
    async def seed() -> None:
        ob = Outbox(Path(state_dir) / "outbox.sqlite3", site="lab", sensor_id="test", max_messages=1000,
                    metrics=Metrics())
        await ob.open()
        await ob.append([device_obs(m, {"mac": m, "present": True}, time.time()) for m in macs])
        await ob.close()

    asyncio.run(seed())


def test_inventory_skips_a_damaged_record_and_lists_the_rest(tmp_path: Path,
                                                             write_config: Callable[..., Path]) -> None:
    cfg_path = write_config()
    state = load_config(cfg_path).sensor.state_dir
    macs = ["00:09:fb:00:00:01", "00:09:fb:00:00:02", "00:09:fb:00:00:03"]
    _seed(state, macs)
    db = sqlite3.connect(Path(state) / "outbox.sqlite3")
    db.execute("UPDATE retained SET payload = ? WHERE topic = ?", (b'{"schema": "edge-sen\xff', f"devices/{macs[1]}"))
    db.commit()
    db.close()
    r = sensor("inventory", "--config", str(cfg_path), "--csv")
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1
    assert f"devices/{macs[1]}" in r.stderr and "damaged" in r.stderr
    listed = [line.split(",")[3] for line in r.stdout.splitlines()[1:]]
    assert listed == [macs[0], macs[2]]


def test_inventory_without_state_says_so(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    cfg_path = write_config()
    state = Path(load_config(cfg_path).sensor.state_dir)
    for when in ("missing", "empty"):
        if when == "empty":
            state.mkdir()
        r = sensor("inventory", "--config", str(cfg_path))
        assert r.returncode == 2, (when, r.stdout, r.stderr)
        assert f"there is no sensor state in {state}" in r.stderr
        assert "0 devices" not in r.stdout


async def test_state_files_are_private(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    old = os.umask(0o022)  # the usual umask: without care, files come out 0644 and directories 0755
    try:
        cfg = load_config(write_config())
        sup = Supervisor(cfg, sources=[])
        assert await sup.run(once=True) == 0
        flows = FlowSource(FlowsSection(listen=["127.0.0.1:0"]), cfg.sensor.state_dir)
        flows.decoder.templates_changed = True
        flows.persist()
    finally:
        os.umask(old)
    _check_private(Path(cfg.sensor.state_dir))


def _check_private(state: Path) -> None:
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = [p for p in state.rglob("*") if p.is_file()]
    names = {p.relative_to(state).as_posix() for p in files}
    assert {"outbox.sqlite3", "flows/templates.json", "flows/baseline.json"} <= names, names
    modes = {p.relative_to(state).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o600"}, modes
    assert stat.S_IMODE((state / "flows").stat().st_mode) == 0o700
