"""A synthetic source for the publishing tests: it emits numbered events.

The switches are not what these tests are about; the outbox, the publisher and a
real Mosquitto are. Run as a script, it is a whole sensor process whose only
source is this stream (so it can be SIGKILLed and SIGTERMed like the real one).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime

from sensor import log as sensor_log
from sensor.config import load_config
from sensor.correlate.model import Attachment, Classification, DeviceRecord, Risk
from sensor.observations import device_obs, event_obs
from sensor.sources import SourceContext
from sensor.supervisor import Supervisor


class StreamSource:
    name = "test-stream"
    interval = 3600.0
    deadline = 3600.0
    continuous = False

    def __init__(self, total: int, rate: float = 0.0) -> None:
        self.total = total
        self.rate = rate

    async def cycle(self, ctx: SourceContext) -> None:
        for i in range(self.total):
            await ctx.emit(event_obs({"event": "test", "i": i}, time.time()))
            if self.rate:
                await asyncio.sleep(1 / self.rate)
        ctx.log.info("stream emitted", total=self.total)


def synthetic_record(i: int, at: float, switch: str = "sw1") -> DeviceRecord:
    """A valid device record for device ``i`` (the correlator is not what these tests are about)."""
    mac = f"02:00:00:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}"
    t = datetime.fromtimestamp(at, UTC)
    return DeviceRecord(mac=mac, present=True, first_seen=t, last_seen=t, locally_administered=True,
                        attachment=Attachment(switch=switch, port=f"Gi1/0/{i % 48 + 1}", ifindex=i % 48 + 1,
                                              vlan=10, confidence=0.9),
                        classification=Classification(device_class="unknown", label="Unknown"),
                        risk=Risk(score=10, level="low"))


class DeviceSource:
    """Publishes ``count`` retained device records once, like a first correlation cycle."""

    name = "test-devices"
    interval = 3600.0
    deadline = 3600.0
    continuous = False

    def __init__(self, count: int) -> None:
        self.count = count

    async def cycle(self, ctx: SourceContext) -> None:
        now = time.time()
        for i in range(self.count):
            rec = synthetic_record(i, now)
            await ctx.emit(device_obs(rec.mac, rec, now))
        ctx.log.info("devices emitted", total=self.count)


async def _main(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    sources: list[StreamSource | DeviceSource] = [DeviceSource(args.devices)] if args.devices else []
    sup = Supervisor(cfg, sources=[*sources, StreamSource(args.total, args.rate)])
    sup.install_signal_handlers()
    code = await sup.run(once=args.once, drain_timeout=args.drain_timeout)
    if code:
        print(sup.exit_reason, file=sys.stderr)
    return code


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--total", type=int, default=1000)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--devices", type=int, default=0, help="retained device records to publish first")
    p.add_argument("--once", action="store_true")
    p.add_argument("--drain-timeout", type=float, default=None)
    args = p.parse_args()
    sensor_log.configure("info", json=True)
    sys.exit(asyncio.run(_main(args)))


if __name__ == "__main__":
    main()
