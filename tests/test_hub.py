"""The hub's side of the contract (issue 18), against a real Mosquitto and real sensor processes.

The sensors here are whole sensor processes (``tests.support.stream``) whose sources are
synthetic (numbered events, generated device records): what is tested is the outbox,
the publisher, the republish and ``sensor watch``, not the switches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sensor.config import load_config
from sensor.metrics import Metrics
from sensor.observations import device_obs, event_obs, switch_obs
from sensor.publish.mqtt import Publisher
from sensor.publish.outbox import Outbox, outbox_path
from sensor.publish.republish import LOST, REQUESTED, Republisher
from sensor.watch import Checker, Stream, schema_validator, topic_problems
from tests.conftest import REPO
from tests.support.mosquitto import Mosquitto
from tests.support.schemas import validate_message
from tests.support.stream import synthetic_record
from tests.support.subscriber import Subscriber


def readme_broker_settings() -> dict[str, str]:
    """The Mosquitto settings the README's "For the hub" section documents."""
    text = (REPO / "README.md").read_text()
    m = re.search(r"<!-- hub-mosquitto -->\s*```\n(.*?)```", text, re.S)
    assert m, "README lost its broker settings for the hub"
    out = {}
    for line in m.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition(" ")
            out[key] = value.strip()
    return out


def sensor_config(tmp: Path, sensor_id: str, port: int, min_interval: str = "300s") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o700)
    p = tmp / f"{sensor_id}.toml"
    p.write_text(f"""
[sensor]
id = "{sensor_id}"
site = "lab"
state_dir = "{tmp / sensor_id}"
health_interval = "1h"

[mqtt]
host = "127.0.0.1"
port = {port}
drain_timeout = "30s"
republish_min_interval = "{min_interval}"
""")
    return p


def sensor_proc(config: Path, total: int = 0, rate: float = 0.0, devices: int = 0,
                once: bool = True) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.support.stream", "--config", str(config), "--total", str(total),
           "--rate", str(rate), "--devices", str(devices)]
    if once:
        cmd += ["--once", "--drain-timeout", "30"]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def watch_proc(port: int, client_id: str, *args: str, out: Path | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "sensor.cli", "watch", "--hub", f"mqtt://127.0.0.1:{port}", "--json",
           "--client-id", client_id, *args]
    stdout = out.open("w") if out is not None else subprocess.PIPE
    return subprocess.Popen(cmd, cwd=REPO, stdout=stdout, stderr=subprocess.PIPE, text=True)


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):  # a line cut by SIGKILL
            out.append(json.loads(line))
    return out


def wait_log(broker: Mosquitto, needle: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in broker.log():
        assert time.monotonic() < deadline, f"broker never logged {needle!r}"
        time.sleep(0.05)


def stream_seqs(lines: list[dict[str, Any]]) -> dict[tuple[str, str], set[int]]:
    """Seqs of the live (not retained-on-subscribe) messages per (sensor, epoch)."""
    out: dict[tuple[str, str], set[int]] = {}
    for ln in lines:
        m = ln["message"]
        if m is None or ln["retained"] or m.get("seq") is None:
            continue
        out.setdefault((f"{m['site']}/{m['sensor']}", m["epoch"]), set()).add(m["seq"])
    return out


# -- pure parts ----------------------------------------------------------------------------------

TIME_NAMES = re.compile(r"(_at|_seen|_since|^at|^window_start|^window_end|^last_success|^last_flow)$")


def _time_properties(node: Any, path: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            if TIME_NAMES.search(name):
                out.append((f"{path}.{name}", sub))
        for key, sub in node.items():
            out += _time_properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            out += _time_properties(sub, f"{path}[{i}]")
    return out


def test_every_time_in_the_shipped_schemas_is_a_date_time() -> None:
    from sensor.commands.schema import NAMES, shipped
    found = 0
    for kind in NAMES:
        for where, prop in _time_properties(json.loads(shipped(kind))):
            branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
            assert branches and all(b == {"type": "string", "format": "date-time"} for b in branches), \
                f"{kind}: {where} is {prop}, not a date-time"
            found += 1
    assert found >= 20  # the walk reaches the records, events and flows


async def test_a_flows_message_carries_its_window_as_date_times(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sensor.flows.model import Conversation, DeviceConversations
    from sensor.observations import flows_obs
    start = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    end = datetime(2026, 12, 2, 8, 5, 0, 250000, tzinfo=UTC)
    dc = DeviceConversations(device="00:09:fb:00:00:01", mac="00:09:fb:00:00:01", ip="10.1.2.3",
                             window_start=start, window_end=end, bytes_out=1, bytes_in=2,
                             conversations=[Conversation("10.9.9.9", 2575, 6, "out", 1, 2, 1, 1, 1)])
    box = Outbox(outbox_path(tmp_path), site="lab", sensor_id="a", max_messages=10, metrics=Metrics())
    await box.open()
    try:
        await box.append([flows_obs(dc, end.timestamp())])
        [row] = await box.fetch(0, 10)
    finally:
        await box.close()
    env = validate_message(row.topic, row.payload)
    assert env is not None and env["schema_version"] == "1.2"
    assert env["data"]["window_start"] == "2026-12-02T08:00:00Z"
    assert env["data"]["window_end"] == "2026-12-02T08:05:00.250000Z"


def test_stream_tells_gaps_late_and_duplicates() -> None:
    s = Stream()
    assert [s.see(n) for n in (1, 2, 5)] == [None, None, "gap: seq 3..4 missing"]
    assert s.missing() == 2
    assert s.see(4) == "late: seq 4 (out of order)" and s.holes == [[3, 3]]
    assert s.see(2) == "duplicate: seq 2 (a QoS 1 redelivery)"
    assert s.see(3) is not None and s.missing() == 0 and s.holes == []


def test_checker_validates_and_follows_epochs() -> None:
    validate, _ = schema_validator()
    c = Checker(validate)
    env = {"schema": "edge-sensor/v1", "schema_version": "1.1", "kind": "event", "site": "lab", "sensor": "a",
           "epoch": "e1", "seq": 1, "observed_at": "2026-12-02T00:00:00.123456Z",
           "data": {"event": "forgotten", "mac": "02:00:00:00:00:01", "at": "2026-12-02T00:00:00Z", "detail": "x"}}
    ok = c.check("edge-sensor/v1/lab/a/events", json.dumps(env).encode(), False)
    assert ok.problems == [] and ok.seq_note is None
    again = c.check("edge-sensor/v1/lab/a/events", json.dumps({**env, "epoch": "e2"}).encode(), False)
    assert again.new_epoch and again.seq_note is None  # seq 1 again, but in a new epoch: no duplicate
    bad = c.check("edge-sensor/v1/lab/a/flows", json.dumps({**env, "epoch": "e2", "seq": 2,
                                                             "observed_at": "yesterday"}).encode(), False)
    assert any("topic suffix" in p for p in bad.problems)
    assert c.invalid == 1
    assert topic_problems("x/lab/b/events", env) == ["topic does not name the envelope's site/sensor lab/a"]


async def test_outbox_epoch_survives_restarts_and_changes_on_reset(tmp_path: Path) -> None:
    def box() -> Outbox:
        return Outbox(outbox_path(tmp_path), site="lab", sensor_id="a", max_messages=1000, metrics=Metrics())

    b = box()
    await b.open()
    first = b.epoch
    await b.append([event_obs({"i": 1}, time.time())])
    await b.close()
    b = box()
    await b.open()
    assert b.epoch == first and b.next_seq == 2
    rows = await b.fetch(0, 10)
    assert json.loads(rows[0].payload)["epoch"] == first
    await b.close()
    await asyncio.to_thread(shutil.rmtree, tmp_path)  # the state directory wiped: a new life
    b = box()
    await b.open()
    assert b.epoch != first and b.next_seq == 1
    await b.close()


async def test_republish_is_atomic_and_keeps_data(tmp_path: Path) -> None:
    b = Outbox(outbox_path(tmp_path), site="lab", sensor_id="a", max_messages=1000, metrics=Metrics())
    await b.open()
    try:
        rec = synthetic_record(1, 1_800_000_000.25)
        await b.append([device_obs(rec.mac, rec, 1_800_000_000.25), switch_obs("sw1", {"switch": "sw1"}, 5.0)])
        # Nothing was acknowledged yet: a loss found now has nothing to refill.
        assert await b.republish(LOST, before_seq=3) is None
        await b.remove([r.id for r in await b.fetch(0, 10)])
        done = await b.republish(REQUESTED)
        assert done is not None and done.retained == {"device": 1, "switch": 1}
        assert (done.first_seq, done.last_seq) == (3, 4)
        rows = await b.fetch(0, 10)
        envs = [json.loads(r.payload) for r in rows]
        assert [e["seq"] for e in envs] == [3, 4, 5]
        dev = next(e for e in envs if e["kind"] == "device")
        # One time format: the envelope's string and the record's datetimes are written alike.
        assert dev["observed_at"] == "2027-01-15T08:00:00.250000Z" == dev["data"]["first_seen"]
        assert dev["data"] == json.loads(msgspec.json.encode(rec))
        assert envs[-1]["data"]["event"] == "snapshot_complete" and envs[-1]["kind"] == "event"
        for r in rows:
            if not r.topic.startswith("switches/"):  # its data is a stand-in here
                validate_message(f"edge-sensor/v1/lab/a/{r.topic}", r.payload)
    finally:
        await b.close()


async def test_republisher_rate_limits_and_coalesces(tmp_path: Path) -> None:
    b = Outbox(outbox_path(tmp_path), site="lab", sensor_id="a", max_messages=1000, metrics=Metrics())
    await b.open()
    try:
        rec = synthetic_record(1, 1.0)
        await b.append([device_obs(rec.mac, rec, 1.0)])
        await b.remove([r.id for r in await b.fetch(0, 10)])
        rep = Republisher(b, Metrics(), min_interval=1.5)
        task = asyncio.create_task(rep.run())
        for _ in range(20):  # a hub asking in a loop, a broker flapping
            rep.request(REQUESTED)
            rep.request(LOST, before_seq=b.next_seq)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert rep.done == 1  # the first at once ...
        await asyncio.sleep(1.2)
        assert rep.done == 2  # ... every other request in one more, after the interval
        await asyncio.sleep(1.6)
        assert rep.done == 2
        task.cancel()
    finally:
        await b.close()


async def test_last_will_says_it_is_one_and_when_to_expect_health(tmp_path: Path) -> None:
    cfg = load_config(sensor_config(tmp_path, "north", 1883))
    assert cfg.mqtt is not None
    b = Outbox(outbox_path(tmp_path / "state"), site="lab", sensor_id="north", max_messages=1000, metrics=Metrics())
    await b.open()
    try:
        pub = Publisher(cfg.mqtt, b, site="lab", sensor_id="north", metrics=Metrics(), health_interval=60.0)
        will = json.loads(pub._status_payload("offline", will=True))
        online = json.loads(pub._status_payload("online"))
        assert will["data"]["will"] is True and online["data"]["will"] is False
        assert will["data"]["health_interval_s"] == 60.0 and will["epoch"] == b.epoch and will["seq"] is None
        for env in (will, online):
            validate_message("edge-sensor/v1/lab/north/status", json.dumps(env).encode())
    finally:
        await b.close()


# -- against a real Mosquitto ----------------------------------------------------------------------

@pytest.mark.parametrize("settings", ["readme", "mosquitto-default-queue"])
def test_worker_outage_with_documented_settings_loses_nothing(tmp_path: Path, settings: str) -> None:
    """Two sensors publish while the hub's worker is SIGKILLed and away; it gets everything on return.

    With Mosquitto's default queue limit (1,000 messages per session) the same outage loses
    messages: the README's settings are what makes the difference.
    """
    conf = readme_broker_settings()
    if settings != "readme":
        conf["max_queued_messages"] = "1000"
    broker = Mosquitto(tmp_path / "broker", settings=conf)
    broker.start()
    procs: list[subprocess.Popen[str]] = []
    try:
        w1_out = tmp_path / "worker-1.jsonl"
        w1 = watch_proc(broker.port, "hub-worker-1", "--session-expiry", "3600", out=w1_out)
        procs.append(w1)
        wait_log(broker, "Received SUBSCRIBE from hub-worker-1")
        cfgs = [sensor_config(tmp_path, sid, broker.port) for sid in ("north", "south")]
        sensors = [sensor_proc(c, total=3000, rate=1500, devices=300) for c in cfgs]
        procs += sensors
        deadline = time.monotonic() + 60
        while w1_out.read_text().count("\n") < 300:  # the worker dies mid-burst
            assert time.monotonic() < deadline, "the worker never got the burst"
            time.sleep(0.02)
        w1.send_signal(signal.SIGKILL)
        w1.wait(timeout=10)
        out1 = w1_out.read_text()
        for p in sensors:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err  # every message acknowledged by the broker
        w2 = watch_proc(broker.port, "hub-worker-1", "--session-expiry", "3600", "--idle", "3")
        procs.append(w2)
        out2, err2 = w2.communicate(timeout=120)
        lines = json_lines(out1) + json_lines(out2)
        # The synthetic stream's numbered events are not a kind of event the schema knows; all else is valid.
        bad = [ln for ln in lines if not ln["valid"] and (ln["message"] or {}).get("data", {}).get("event") != "test"]
        assert lines and not bad, bad[:3]
        seqs = stream_seqs(lines)
        assert {s for s, _ in seqs} == {"lab/north", "lab/south"}
        # Each sensor sent 300 device records, 3,000 events and its final health: seqs 1..3301.
        lost = {key: set(range(1, 3302)) - got for key, got in seqs.items()}
        assert all(max(got) <= 3301 for got in seqs.values())
        sent = 2 * 3301
        before = sum(len(v) for v in stream_seqs(json_lines(out1)).values())
        print(f"worker outage ({settings}): {before} messages before the kill, {len(json_lines(out2))} lines "
              f"after it, {sum(map(len, lost.values()))} lost of {sent}")
        if settings == "readme":
            assert not any(lost.values()), {k: len(v) for k, v in lost.items()}
            assert '"missing": 0' in err2
        else:
            assert sum(map(len, lost.values())) > 0  # the broker dropped what its queue could not hold
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        broker.stop()


def test_broker_restart_without_persistence_gets_the_inventory_back(tmp_path: Path) -> None:
    settings = {**readme_broker_settings(), "persistence": "false"}
    broker = Mosquitto(tmp_path / "broker", settings=settings)
    broker.start()
    sensor = None
    try:
        cfg = sensor_config(tmp_path, "north", broker.port, min_interval="3s")
        sensor = sensor_proc(cfg, devices=400, once=False)
        first = Subscriber(broker.port, "edge-sensor/v1/+/+/devices/+")
        assert first.wait_for(lambda: len({t for t, _, _ in first.messages}) == 400, 60)
        before = {t: p for t, p, _ in first.messages}
        first.close()
        broker.restart()  # everything retained is gone
        t0 = time.monotonic()
        hub = Subscriber(broker.port, "edge-sensor/v1/lab/north/#")
        assert hub.wait_for(lambda: any(e["data"].get("event") == "snapshot_complete"
                                        for e in hub.envelopes("/events")), 30), sensor.stderr
        signal_s = time.monotonic() - t0
        done = next(e for e in hub.envelopes("/events") if e["data"].get("event") == "snapshot_complete")
        assert done["data"]["reason"] == "broker lost retained state"
        assert done["data"]["retained"] == {"device": 400}
        late = Subscriber(broker.port, "edge-sensor/v1/+/+/devices/+")  # a hub that comes later
        assert late.wait_for(lambda: len(late.messages) == 400, 10)
        refill_s = time.monotonic() - t0
        after = {t: json.loads(p) for t, p, r in late.messages if r}
        assert set(after) == set(before)
        for t, env in after.items():
            old = json.loads(before[t])
            assert env["data"] == old["data"] and env["observed_at"] == old["observed_at"]
            assert env["epoch"] == old["epoch"] and env["seq"] > old["seq"]  # the same record, a new message
        print(f"broker restart without persistence: snapshot_complete after {signal_s:.2f} s, "
              f"400 of 400 device records retained again {refill_s:.2f} s after the restart")
        # A hub asks; asking in a loop costs one more republish per interval, not one per request.
        req = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hub-admin", protocol=mqtt.MQTTv5)
        req.connect("127.0.0.1", broker.port)
        req.loop_start()
        for _ in range(10):
            req.publish("edge-sensor/v1/lab/north/republish", b"", qos=1).wait_for_publish(5)
        time.sleep(7)
        asked = [e for e in hub.envelopes("/events") if e["data"].get("event") == "snapshot_complete"
                 and e["data"]["reason"] == "hub request"]
        assert 1 <= len(asked) <= 2, len(asked)
        assert asked[0]["data"]["retained"] == {"device": 400}
        req.loop_stop()
        req.disconnect()
        for s in (hub, late):
            s.close()
    finally:
        if sensor is not None:
            sensor.send_signal(signal.SIGTERM)
            sensor.communicate(timeout=20)
        broker.stop()


def test_sensor_reset_shows_a_new_epoch(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", settings=readme_broker_settings())
    broker.start()
    try:
        w = watch_proc(broker.port, "hub-epochs", "--duration", "0.5")  # creates the persistent session
        w.communicate(timeout=20)
        cfg = sensor_config(tmp_path, "north", broker.port)
        for devices in (20, 10):
            p = sensor_proc(cfg, devices=devices)
            assert p.wait(timeout=60) == 0
        shutil.rmtree(tmp_path / "north")  # the state directory is wiped
        p = sensor_proc(cfg, devices=10)
        assert p.wait(timeout=60) == 0
        w = watch_proc(broker.port, "hub-epochs", "--idle", "2")
        out, err = w.communicate(timeout=60)
        lines = json_lines(out)
        seqs = stream_seqs(lines)
        assert len(seqs) == 2, seqs.keys()
        (_, s1), (_, s2) = sorted(seqs.items(), key=lambda kv: -len(kv[1]))
        assert s1 == set(range(1, 20 + 1 + 10 + 1 + 1)) and s2 == set(range(1, 12)), (s1, s2)
        assert sum(ln["new_epoch"] for ln in lines) == 1
        assert w.returncode == 0, err  # nothing missing, nothing invalid, although seq started again
    finally:
        broker.stop()


def test_watch_says_what_is_wrong_with_a_bad_hub_url() -> None:
    p = subprocess.run([sys.executable, "-m", "sensor.cli", "watch", "--hub", "http://x"], cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "expected mqtt://host[:port]" in p.stderr and "Traceback" not in p.stderr
