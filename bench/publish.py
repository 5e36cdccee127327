"""Benchmark: observations/s through the outbox to Mosquitto vs raw aiomqtt QoS 1.

Both sides publish the same payloads at QoS 1 with the same in-flight window to a
Mosquitto started here on a free loopback port. The outbox side is the real
supervisor: queue -> SQLite outbox (WAL, synchronous=FULL, batch commits) ->
publisher -> PUBACK -> delete. Measures and prints; never fails on timing.

    .venv/bin/python bench/publish.py [--count 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiomqtt  # noqa: E402

from sensor import log as sensor_log  # noqa: E402
from sensor.config import parse_config  # noqa: E402
from sensor.observations import device_obs  # noqa: E402
from sensor.sources import SourceContext  # noqa: E402
from sensor.supervisor import Supervisor  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402

INFLIGHT = 100


def record(i: int) -> dict[str, object]:
    mac = f"00:09:fb:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
    return {
        "mac": mac, "vendor": "Philips Patient Monitoring", "ips": [f"198.18.{(i >> 8) & 255}.{i & 255}"],
        "attachment": {"switch": "idf2-access-1", "port": f"Gi1/0/{i % 48 + 1}", "ifindex": 10100 + i % 48,
                       "vlan": 10, "confidence": 0.95},
        "classification": {"device_class": "patient_monitor", "confidence": 0.9},
        "risk": {"score": 42}, "first_seen": "2026-11-23T10:00:00Z", "last_seen": "2026-11-23T16:00:00Z",
    }


class BenchSource:
    name = "bench"
    interval = 3600.0
    deadline = 3600.0
    continuous = False

    def __init__(self, count: int) -> None:
        self.count = count

    async def cycle(self, ctx: SourceContext) -> None:
        now = time.time()
        for i in range(self.count):
            rec = record(i)
            await ctx.emit(device_obs(str(rec["mac"]), rec, now))


async def raw(port: int, count: int) -> float:
    import msgspec

    payloads = [msgspec.json.encode({"schema": "edge-sensor/v1", "kind": "device", "site": "bench",
                                     "sensor": "raw", "seq": i + 1, "observed_at": "2026-11-23T16:00:00.000Z",
                                     "data": record(i)}) for i in range(count)]
    t0 = time.perf_counter()
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5,
                              max_inflight_messages=INFLIGHT) as client:
        client.pending_calls_threshold = INFLIGHT + 10
        window = asyncio.Semaphore(INFLIGHT)

        async def one(i: int) -> None:
            try:
                await client.publish(f"bench/raw/devices/{i}", payloads[i], qos=1, retain=True)
            finally:
                window.release()

        async with asyncio.TaskGroup() as tg:
            for i in range(count):
                await window.acquire()
                tg.create_task(one(i))
    return time.perf_counter() - t0


async def outbox(port: int, count: int, state: Path) -> float:
    cfg = parse_config(f"""
[sensor]
id = "bench"
site = "bench"
state_dir = "{state}"
health_interval = "1h"
[mqtt]
host = "127.0.0.1"
port = {port}
max_inflight = {INFLIGHT}
drain_timeout = "300s"
""")
    t0 = time.perf_counter()
    code = await Supervisor(cfg, sources=[BenchSource(count)]).run(once=True)
    took = time.perf_counter() - t0
    if code != 0:
        raise SystemExit("outbox run did not drain")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=40000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sensor_log.configure("warning")
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker", persistence=False)
        broker.start()
        try:
            rows = []
            for r in range(args.rounds):
                t_raw = asyncio.run(raw(broker.port, args.count))
                t_out = asyncio.run(outbox(broker.port, args.count, Path(tmp) / f"state{r}"))
                rows.append((args.count / t_raw, args.count / t_out))
                print(f"round {r + 1}: raw aiomqtt {args.count / t_raw:9.0f} msg/s   "
                      f"outbox {args.count / t_out:9.0f} msg/s   ratio {t_raw / t_out:.2f}")
        finally:
            broker.stop()
    best_raw = max(r for r, _ in rows)
    best_out = max(o for _, o in rows)
    print(f"\n{args.count} messages, QoS 1, {INFLIGHT} in flight, payload ~{len(str(record(0))) + 120} bytes")
    print(f"best raw aiomqtt : {best_raw:9.0f} msg/s")
    print(f"best outbox      : {best_out:9.0f} msg/s")
    print(f"outbox / raw     : {best_out / best_raw:.2f}  (goal >= 0.70)")


if __name__ == "__main__":
    main()
