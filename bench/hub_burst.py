"""Benchmark: the burst a hub must absorb, and how long a broker that lost everything takes to refill.

A real sensor (supervisor, correlator, outbox, publisher) correlates the synthetic
hospital of ``bench/correlate.py`` (N devices on 190 access switches) in its first
cycle and publishes to a Mosquitto started here; a subscriber (QoS 1) timestamps
every message. Printed: messages of the first cycle per kind, their duration, the
mean and the peak rate (per second). Then the broker is restarted without
persistence and a fresh subscriber measures the time until every device record is
retained again (the sensor's probe finds no retained status and republishes).
Measures and prints; never fails on timing.

    .venv/bin/python bench/hub_burst.py [--devices 850]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from bench.correlate import hospital  # noqa: E402
from sensor import log as sensor_log  # noqa: E402
from sensor.config import parse_config  # noqa: E402
from sensor.sources import SourceContext  # noqa: E402
from sensor.supervisor import Supervisor  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402


class Hospital:
    name = "hospital"
    interval = 3600.0
    deadline = 600.0
    continuous = False

    def __init__(self, devices: int) -> None:
        self.snaps = hospital(devices)

    async def cycle(self, ctx: SourceContext) -> None:
        for snap in self.snaps.values():
            await ctx.snapshot(snap)


class Recorder:
    def __init__(self, port: int, name: str) -> None:
        self.lock = threading.Lock()
        self.got: list[tuple[float, str, bytes, bool]] = []
        self.ready = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        self.c.on_connect = lambda c, *a: (c.subscribe("edge-sensor/#", qos=1), self.ready.set())
        self.c.on_message = self._msg
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.ready.wait(10)

    def _msg(self, c: object, u: object, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.append((time.monotonic(), m.topic, bytes(m.payload), bool(m.retain)))

    def idle_for(self, s: float) -> bool:
        with self.lock:
            last = self.got[-1][0] if self.got else 0.0
        return bool(self.got) and time.monotonic() - last >= s

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


async def until(cond: object, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


async def main_async(devices: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker", persistence=False)
        broker.start()
        cfg = parse_config(f"""
[sensor]
id = "bench"
site = "lab"
state_dir = "{tmp}/state"
health_interval = "1h"
[mqtt]
host = "127.0.0.1"
port = {broker.port}
""", "bench")
        rec = Recorder(broker.port, "bench-hub")
        sup = Supervisor(cfg, sources=[Hospital(devices)])
        run = asyncio.create_task(sup.run())
        def first_cycle_done() -> bool:
            with rec.lock:
                started = any("/devices/" in t for _, t, _, _ in rec.got)
            return started and rec.idle_for(3.0)

        await until(first_cycle_done, 600)
        with rec.lock:
            got = [g for g in rec.got if not g[3]]
        kinds = collections.Counter(t.split("/")[4] for _, t, _, _ in got)
        times = [t for t, *_ in got]
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        per_s = collections.Counter(int(t - times[0]) for t in times)
        print(f"first cycle, {devices} devices: {len(got)} messages {dict(kinds)} in {span:.2f} s: "
              f"mean {len(got) / span if span else 0:.0f}/s, peak {max(per_s.values())}/s (1 s bins)")
        rec.close()
        # The broker forgets everything; how long until a fresh hub sees the whole inventory again?
        expected = len({t for _, t, p, _ in got if "/devices/" in t and p})
        broker.restart()
        t0 = time.monotonic()
        fresh = Recorder(broker.port, "bench-hub-2")

        def devices_retained() -> int:
            probe = Recorder(broker.port, f"probe-{time.monotonic_ns()}")
            time.sleep(0.3)
            while not probe.idle_for(1.0):  # the retained messages take a while to arrive
                time.sleep(0.1)
            with probe.lock:
                n = len({t for _, t, p, r in probe.got if r and "/devices/" in t and p})
            probe.close()
            return n

        await until(lambda: any(b'"snapshot_complete"' in p for _, _, p, _ in list(fresh.got)), 120)
        t_signal = time.monotonic() - t0
        n = await asyncio.to_thread(devices_retained)
        t_full = time.monotonic() - t0
        done = next((json.loads(p) for _, _, p, _ in fresh.got if b'"snapshot_complete"' in p), None)
        print(f"broker restarted without persistence: snapshot_complete after {t_signal:.2f} s "
              f"({done['data']['retained'] if done else 'not seen'}); a new subscriber then finds {n} of "
              f"{expected} device records "
              f"retained ({t_full:.2f} s after the restart)")
        fresh.close()
        sup.stop_event.set()
        await run
        broker.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=850)
    args = ap.parse_args()
    sensor_log.configure("warning", json=False)
    asyncio.run(main_async(args.devices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
