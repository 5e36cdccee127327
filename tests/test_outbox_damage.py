"""A damaged outbox (issue 14, item 2): seq never goes backwards, every gap is counted, the damaged
file is moved aside with one clear error, never a traceback. Each test damages a real SQLite file
the way the issue found it."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sensor import log as sensor_log
from sensor.config import load_config
from sensor.metrics import Metrics
from sensor.observations import event_obs
from sensor.publish.outbox import Outbox
from tests.conftest import REPO


def _outbox(path: Path, metrics: Metrics | None = None) -> Outbox:
    return Outbox(path, site="lab", sensor_id="test", max_messages=10_000, metrics=metrics or Metrics())


async def _ten_sent_four(path: Path, size: int = 10) -> None:
    """seq 1..10 committed, 1..4 acknowledged (removed), 5..10 pending; a clean close."""
    ob = _outbox(path)
    await ob.open()
    await ob.append([event_obs({"i": i, "pad": "x" * size}, time.time()) for i in range(10)])
    rows = await ob.fetch(0, 100)
    assert [r.seq for r in rows] == list(range(1, 11))
    await ob.remove([r.id for r in rows[:4]])
    await ob.close()


def _errors(buf: io.StringIO) -> list[dict[str, object]]:
    return [x for x in (json.loads(line) for line in buf.getvalue().splitlines()) if x.get("level") == "error"]


async def _reopen_and_append(path: Path) -> tuple[Outbox, Metrics, list[int | None]]:
    metrics = Metrics()
    ob = _outbox(path, metrics)
    await ob.open()
    await ob.append([event_obs({"after": i}, time.time()) for i in range(3)])
    seqs = [r.seq for r in await ob.fetch(0, 100)]
    return ob, metrics, seqs


@pytest.fixture
def logbuf() -> io.StringIO:
    buf = io.StringIO()
    sensor_log.configure("info", stream=buf, json=True)
    return buf


async def test_emptied_to_zero_bytes(tmp_path: Path, logbuf: io.StringIO) -> None:
    path = tmp_path / "outbox.sqlite3"
    await _ten_sent_four(path)
    path.write_bytes(b"")
    ob, metrics, seqs = await _reopen_and_append(path)
    assert seqs == [11, 12, 13]  # not 1, 2, 3
    assert (ob.dropped_total, ob.last_dropped_seq) == (6, 10)  # 5..10 were pending and are gone
    assert metrics.snapshot()["outbox_dropped_total"] == 6
    errs = _errors(logbuf)
    assert len(errs) == 1 and "damaged" in str(errs[0]["event"]), errs
    assert [p.name for p in os.scandir(tmp_path) if p.name.startswith("outbox.sqlite3.damaged-")]
    await ob.close()


async def test_next_seq_gone(tmp_path: Path, logbuf: io.StringIO) -> None:
    path = tmp_path / "outbox.sqlite3"
    await _ten_sent_four(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key = 'next_seq'")
    db.commit()
    db.close()
    ob, _, seqs = await _reopen_and_append(path)
    # The pending 5..10 stay and keep their seq; new messages never reuse one of them.
    assert seqs == [5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert len(set(seqs)) == len(seqs)
    assert ob.dropped_total == 0
    errs = _errors(logbuf)
    assert len(errs) == 1 and "next_seq" in str(errs[0].get("problem")), errs
    await ob.close()


async def test_next_seq_gone_after_a_crash_counts_the_skipped_seqs(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    ob = _outbox(path)
    await ob.open()
    await ob.append([event_obs({"i": i}, time.time()) for i in range(10)])
    # No close: as after kill -9 the mark still reserves a block ahead.
    reserved = ob.reserved
    assert reserved > 11
    ob._pool.shutdown(wait=True)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key = 'next_seq'")
    db.commit()
    db.close()
    ob2, _, seqs = await _reopen_and_append(path)
    assert seqs[:10] == list(range(1, 11)) and seqs[10:] == [reserved, reserved + 1, reserved + 2]
    assert (ob2.dropped_total, ob2.last_dropped_seq) == (reserved - 11, reserved - 1)
    await ob2.close()


async def test_table_gone(tmp_path: Path, logbuf: io.StringIO) -> None:
    path = tmp_path / "outbox.sqlite3"
    await _ten_sent_four(path)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE outbox")
    db.commit()
    db.close()
    ob, metrics, seqs = await _reopen_and_append(path)
    assert seqs == [11, 12, 13]
    assert (ob.dropped_total, ob.last_dropped_seq) == (6, 10)
    assert metrics.snapshot()["outbox_dropped_total"] == 6
    errs = _errors(logbuf)
    assert len(errs) == 1 and "outbox missing" in str(errs[0].get("problem")), errs
    await ob.close()


def _corrupt(path: Path) -> None:
    size = path.stat().st_size
    assert size >= 16 * 4096, size
    with open(path, "r+b") as fh:
        for page in range(2, size // 4096, 3):
            fh.seek(page * 4096 + 100)
            fh.write(os.urandom(2000))


async def test_corrupted_pages(tmp_path: Path, logbuf: io.StringIO) -> None:
    path = tmp_path / "outbox.sqlite3"
    await _ten_sent_four(path, size=20_000)
    _corrupt(path)
    ob, _, seqs = await _reopen_and_append(path)
    assert seqs == [11, 12, 13]
    assert (ob.dropped_total, ob.last_dropped_seq) == (6, 10)
    errs = _errors(logbuf)
    assert len(errs) == 1 and "damaged" in str(errs[0]["event"]), errs
    await ob.close()


def test_corrupted_outbox_under_sensor_run_is_one_clear_error(tmp_path: Path,
                                                               write_config: Callable[..., Path]) -> None:
    import asyncio

    cfg_path = write_config()
    path = Path(load_config(cfg_path).sensor.state_dir) / "outbox.sqlite3"
    asyncio.run(_ten_sent_four(path, size=20_000))
    _corrupt(path)
    r = subprocess.run([sys.executable, "-m", "sensor.cli", "run", "--once", "--log-json", "--config", str(cfg_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    assert r.returncode == 0, out
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert next(x["event"] for x in lines if x.get("level") == "error").startswith("the outbox is damaged")
    health = [x for x in lines if x["event"] == "sensor starting"]
    assert health and health[0]["next_seq"] == 11


async def test_hub_sees_seq_continue_and_the_gap_announced(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    """Through a real Mosquitto: after the outbox was emptied to 0 bytes, seq goes on and health explains the gap."""
    import asyncio

    from sensor.supervisor import Supervisor
    from tests.support.mosquitto import Mosquitto
    from tests.support.stream import StreamSource
    from tests.support.subscriber import Subscriber

    broker = Mosquitto(tmp_path / "broker")  # down: 20 events and a health message wait in the outbox
    cfg = load_config(write_config(mqtt_port=broker.port))
    assert await Supervisor(cfg, sources=[StreamSource(20)]).run(once=True, drain_timeout=0.5) == 1
    state = Path(cfg.sensor.state_dir)
    (state / "outbox.sqlite3").write_bytes(b"")
    broker.start()
    try:
        sub = Subscriber(broker.port)
        try:
            sup = Supervisor(cfg, sources=[StreamSource(5)])
            assert await sup.run(once=True, drain_timeout=20) == 0, sup.exit_reason
            await asyncio.to_thread(sub.wait_for, lambda: len(sub.seqs()) >= 6, 10)
            seqs = sorted(set(sub.seqs()))
            assert seqs == list(range(22, 28)), seqs  # never 1..6 again
            health = sub.envelopes("/health")[-1]["data"]
            assert (health["outbox_dropped_total"], health["outbox_last_dropped_seq"]) == (21, 21)
        finally:
            sub.close()
    finally:
        broker.stop()
