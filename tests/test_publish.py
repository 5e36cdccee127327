"""Store-and-forward publishing against a real Mosquitto (issue 2, point 7 a-d, f)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sensor.config import load_config
from sensor.metrics import Metrics
from sensor.observations import event_obs
from sensor.publish.outbox import Outbox
from sensor.sources import SourceContext
from sensor.supervisor import Supervisor
from tests.conftest import REPO
from tests.support.mosquitto import Mosquitto, make_tls_files
from tests.support.schemas import validate_message
from tests.support.stream import StreamSource
from tests.support.subscriber import Subscriber


def stream_proc(config: Path, total: int, rate: float = 0.0, once: bool = False,
                drain: float | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.support.stream", "--config", str(config), "--total", str(total),
           "--rate", str(rate)]
    if once:
        cmd.append("--once")
    if drain is not None:
        cmd += ["--drain-timeout", str(drain)]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def outbox_rows(state: Path) -> list[tuple[int, int | None]]:
    db = sqlite3.connect(state / "outbox.sqlite3")
    try:
        return db.execute("SELECT id, seq FROM outbox ORDER BY id").fetchall()
    finally:
        db.close()


def events(sub: Subscriber) -> list[dict]:
    return sub.envelopes("/events")


def test_produced_while_broker_down_then_all_delivered(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    broker = Mosquitto(tmp_path / "broker")
    cfg = write_config(mqtt_port=broker.port)
    # Broker down: 1,000 observations go into the outbox and the run says why it could not send.
    p = stream_proc(cfg, 1000, once=True, drain=2)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1, err
    assert "not reachable" in err and "1001 messages wait in the outbox" in err
    assert len(outbox_rows(tmp_path / "state")) == 1001  # 1,000 events + 1 health
    broker.start()
    try:
        sub = Subscriber(broker.port)
        p = stream_proc(cfg, 0, once=True, drain=30)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert sub.wait_for(lambda: len(events(sub)) >= 1000, 20)
        seqs = [e["seq"] for e in events(sub)]
        assert sorted(set(seqs)) == list(range(1, 1001))
        assert [e["data"]["i"] for e in events(sub)][:1000] == list(range(1000))
        all_seqs = sorted(set(sub.seqs()))
        assert all_seqs == list(range(1, all_seqs[-1] + 1)), "seq must be contiguous across runs"
        assert outbox_rows(tmp_path / "state") == []
        sub.close()
    finally:
        broker.stop()


async def test_qos1_redelivery_carries_same_seq(tmp_path: Path, write_config: Callable[..., Path],
                                                broker: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PUBACK that never reaches the outbox (crash right after sending) means resending the same bytes."""
    sub = Subscriber(broker.port)
    cfg = load_config(write_config(mqtt_port=broker.port))

    async def lost_ack(self: Outbox, ids: object) -> None:  # the PUBACK arrived, but the delete never happened
        return None

    with monkeypatch.context() as m:
        m.setattr(Outbox, "remove", lost_ack)
        sup = Supervisor(cfg, sources=[StreamSource(50)])
        assert await sup.run(once=True, drain_timeout=1.5) == 1  # nothing left the outbox
    assert sub.wait_for(lambda: len(events(sub)) == 50, 10)
    first = {e["seq"]: e for e in events(sub)}
    sup = Supervisor(cfg, sources=[])
    assert await sup.run(once=True, drain_timeout=10) == 0
    assert sub.wait_for(lambda: len(events(sub)) == 100, 10)
    again = events(sub)[50:]
    assert [e["seq"] for e in again] == sorted(first)
    assert all(e == first[e["seq"]] for e in again), "a redelivery must be byte-identical"
    sub.close()


def test_sigkill_mid_stream_loses_no_seq(tmp_path: Path, write_config: Callable[..., Path],
                                         broker: Mosquitto) -> None:
    sub = Subscriber(broker.port)
    cfg = write_config(mqtt_port=broker.port)
    p = stream_proc(cfg, 100_000, rate=2000)
    assert sub.wait_for(lambda: len(events(sub)) > 300, 30), p.stderr.read() if p.poll() is not None else ""
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    before = len(events(sub))
    # After the kill: what was committed and not acknowledged goes out on the next start.
    p = stream_proc(cfg, 0, once=True, drain=30)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    seqs = sub.seqs()
    top = max(seqs)
    assert sorted(set(seqs)) == list(range(1, top + 1)), "a seq is missing after SIGKILL"
    assert before > 300
    # Duplicates are allowed (QoS 1) but must be identical messages.
    by_seq: dict[int, dict] = {}
    for e in sub.envelopes():
        if e.get("seq") is not None:
            assert by_seq.setdefault(e["seq"], e) == e
    sub.close()


def test_broker_restart_mid_stream_loses_nothing(tmp_path: Path, write_config: Callable[..., Path],
                                                 broker: Mosquitto) -> None:
    sub = Subscriber(broker.port)
    cfg = write_config(mqtt_port=broker.port)
    p = stream_proc(cfg, 3000, rate=1000, once=True, drain=60)
    assert sub.wait_for(lambda: len(events(sub)) > 500, 30)
    broker.stop()
    time.sleep(1.0)
    broker.start()
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert sub.wait_for(lambda: len({e["data"]["i"] for e in events(sub)}) == 3000, 30), (
        f"got {len({e['data']['i'] for e in events(sub)})} of 3000"
    )
    seqs = sub.seqs()
    assert sorted(set(seqs)) == list(range(1, max(seqs) + 1))
    assert outbox_rows(tmp_path / "state") == []
    sub.close()


def test_sigterm_exits_quickly_and_outbox_is_consistent(tmp_path: Path, write_config: Callable[..., Path],
                                                        broker: Mosquitto) -> None:
    sub = Subscriber(broker.port)
    cfg = write_config(mqtt_port=broker.port)
    p = stream_proc(cfg, 100_000, rate=3000)
    assert sub.wait_for(lambda: len(events(sub)) > 300, 30)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=15)
    took = time.monotonic() - t0
    assert took < 10, f"SIGTERM took {took:.1f}s"
    assert p.returncode == 0, err
    assert "Traceback" not in err
    state = tmp_path / "state"
    db = sqlite3.connect(state / "outbox.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    next_seq = dict(db.execute("SELECT key, value FROM meta").fetchall())["next_seq"]
    db.close()
    time.sleep(0.5)
    received = set(sub.seqs())
    pending = {s for _, s in outbox_rows(state) if s is not None}
    # Every seq handed out is either at the hub or still waiting in the outbox.
    assert received | pending == set(range(1, next_seq))
    # The graceful stop says so: the retained status is "offline".
    status = sub.envelopes("/status")
    assert status[-1]["data"]["state"] == "offline"
    sub.close()


def test_sigkill_leaves_last_will_offline(tmp_path: Path, write_config: Callable[..., Path],
                                          broker: Mosquitto) -> None:
    sub = Subscriber(broker.port)
    cfg = write_config(mqtt_port=broker.port)
    p = subprocess.Popen([sys.executable, "-m", "sensor.cli", "run", "--config", str(cfg)], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert sub.wait_for(lambda: any(e["data"]["state"] == "online" for e in sub.envelopes("/status")), 20)
        online = [e for e in sub.envelopes("/status") if e["data"]["state"] == "online"][-1]
        assert online["data"]["version"] and online["data"]["started_at"]
        assert sub.wait_for(lambda: len(sub.envelopes("/health")) >= 1, 10)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        # keepalive 60 s would be slow; the broker sends the will as soon as the socket closes.
        assert sub.wait_for(lambda: sub.envelopes("/status")[-1]["data"]["state"] == "offline", 10)
        # status (online, and the broker's last will) and health match their shipped JSON Schemas
        for topic, payload, _ in list(sub.messages):
            validate_message(topic, payload)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    sub.close()
    # A late subscriber gets the retained status.
    late = Subscriber(broker.port, topic="edge-sensor/v1/lab/test/status")
    assert late.wait_for(lambda: bool(late.messages), 5)
    assert late.messages[-1][2] is True
    assert json.loads(late.messages[-1][1])["data"]["state"] == "offline"
    late.close()


def test_tls_and_password(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    tls = make_tls_files(tmp_path / "pki")
    broker = Mosquitto(tmp_path / "broker", password=("closet", "s3cret-pw"), tls=tls)
    broker.start()
    try:
        pw = tmp_path / "mqtt-password"
        pw.write_text("s3cret-pw\n")
        pw.chmod(0o600)
        cfg = write_config(f"""
            [mqtt]
            host = "127.0.0.1"
            port = {broker.port}
            tls = true
            ca_file = "{tls['ca']}"
            username = "closet"
            password_file = "{pw}"
            drain_timeout = "15s"
        """)
        r = subprocess.run([sys.executable, "-m", "sensor.cli", "run", "--config", str(cfg), "--once"],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "connected to hub" in r.stderr
        log = broker.log()
        assert "u'closet'" in log or "closet" in log
        # A wrong password: one clear error line, then backoff, not a tight loop.
        pw.write_text("wrong\n")
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "sensor.cli", "run", "--config", str(cfg), "--once",
                            "--drain-timeout", "6"], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        lines = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
        errors = [x for x in lines if x["level"] == "error"]
        assert len(errors) == 1, errors
        assert "refused the sensor's credentials" in errors[0]["event"]
        assert "mqtt.password_file" in errors[0]["event"]
        assert "wrong" not in r.stderr and "s3cret" not in r.stderr
        assert r.stderr.strip().splitlines()[-1].startswith("sensor run: hub 127.0.0.1")
        attempts = broker.log().count("not authorised")
        assert 1 <= attempts <= 5, f"{attempts} connection attempts in {time.monotonic() - t0:.0f}s"
    finally:
        broker.stop()


def test_no_hub_keeps_everything_in_local_store(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    cfg = load_config(write_config(extra_sensor=""))

    async def go() -> int:
        return await Supervisor(cfg, sources=[StreamSource(200)]).run(once=True)

    assert asyncio.run(go()) == 0
    rows = outbox_rows(tmp_path / "state")
    assert [s for _, s in rows] == list(range(1, 202))


def test_tls_client_certificate(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    tls = make_tls_files(tmp_path / "pki")
    broker = Mosquitto(tmp_path / "broker", tls={**tls, "require_certificate": True})
    broker.start()
    try:
        body = f"""
            [mqtt]
            host = "127.0.0.1"
            port = {broker.port}
            tls = true
            ca_file = "{tls['ca']}"
            drain_timeout = "5s"
        """
        # Without the client certificate the broker refuses the TLS handshake...
        cfg = write_config(body)
        r = subprocess.run([sys.executable, "-m", "sensor.cli", "run", "--config", str(cfg), "--once"],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "hub 127.0.0.1" in r.stderr
        # ...with it, the sensor connects and delivers.
        cfg = write_config(body + f"""
            cert_file = "{tls['client_cert']}"
            key_file = "{tls['client_key']}"
        """)
        r = subprocess.run([sys.executable, "-m", "sensor.cli", "run", "--config", str(cfg), "--once"],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "closet-2b" in broker.log()
    finally:
        broker.stop()


async def test_messages_after_the_outbox_drained_are_sent(tmp_path: Path, write_config: Callable[..., Path],
                                                          broker: Mosquitto) -> None:
    """Regression: once the outbox was empty, new rows reused old ids and the publisher skipped them."""
    sub = Subscriber(broker.port)
    cfg = load_config(write_config(mqtt_port=broker.port))
    holder: list[Supervisor] = []

    class TwoBursts:
        name = "bursts"
        interval = 3600.0
        deadline = 30.0
        continuous = False

        async def cycle(self, ctx: SourceContext) -> None:
            for i in range(5):
                await ctx.emit(event_obs({"i": i}, time.time()))
            while holder[0].outbox.depth or holder[0].outbox.next_seq < 6:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # until the hub acknowledged all five
            for i in range(5, 12):
                await ctx.emit(event_obs({"i": i}, time.time()))

    sup = Supervisor(cfg, sources=[TwoBursts()])
    holder.append(sup)
    assert await sup.run(once=True, drain_timeout=10) == 0, sup.exit_reason
    assert sub.wait_for(lambda: len(events(sub)) == 12, 10)
    assert [e["data"]["i"] for e in events(sub)] == list(range(12))
    sub.close()


async def test_a_burst_waits_for_the_hub_instead_of_piling_up_in_the_outbox(
        tmp_path: Path, write_config: Callable[..., Path], broker: Mosquitto,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A first cycle publishes a record per device at once: with the hub connected the writer holds
    the outbox near its high-water mark (lowered here) and everything still arrives, in order."""
    import sensor.supervisor as supervisor

    monkeypatch.setattr(supervisor, "OUTBOX_HIGH_WATER", 400)
    monkeypatch.setattr(supervisor, "OUTBOX_LOW_WATER", 200)
    monkeypatch.setattr(supervisor, "COMMIT_CHUNK", 500, raising=False)
    sub = Subscriber(broker.port)
    cfg = load_config(write_config(mqtt_port=broker.port))
    holder: list[Supervisor] = []
    total = 4000

    class Burst:
        name = "burst"
        interval = 3600.0
        deadline = 60.0
        continuous = False

        async def cycle(self, ctx: SourceContext) -> None:
            await holder[0].publisher.connected.wait()  # type: ignore[union-attr]
            for i in range(total // 2):
                await ctx.emit(event_obs({"i": i}, time.time()))
            await holder[0].observations.join()
            # The correlator commits its records itself, all of one correlation at once.
            await holder[0].commit([event_obs({"i": i}, time.time()) for i in range(total // 2, total)])

    sup = Supervisor(cfg, sources=[Burst()])
    holder.append(sup)
    assert await sup.run(once=True, drain_timeout=30) == 0, sup.exit_reason
    assert sub.wait_for(lambda: len(events(sub)) == total, 20)
    assert [e["data"]["i"] for e in events(sub)] == list(range(total))
    # One chunk may land on top of the mark; without backpressure the whole burst sat in SQLite.
    assert sup.outbox.depth_max < 400 + 500, sup.outbox.depth_max
    assert sup.metrics.counters["outbox_backpressure_waits"] >= 1
    sub.close()


async def test_counting_retained_messages_reads_the_kind_index_not_every_payload(tmp_path: Path) -> None:
    # health counts them every interval; a scan over 50,000 stored records cost seconds per cycle
    box = Outbox(tmp_path / "outbox.sqlite3", site="s", sensor_id="x", max_messages=10, metrics=Metrics())
    await box.open()
    try:
        plan = " ".join(str(r[-1]) for r in box.db.execute(
            "EXPLAIN QUERY PLAN SELECT kind, COUNT(*) FROM retained GROUP BY kind"))
    finally:
        await box.close()
    assert "USING COVERING INDEX retained_kind" in plan, plan
