"""``sensor run [-c FILE] [--once]``: the service, or one cycle for scripts.

The log goes to standard error: readable lines on a terminal, JSON lines under systemd
(see sensor/log.py). Exit status with ``--once``: 0 everything answered and the hub
acknowledged, 1 a source failed or the hub did not acknowledge, 2 configuration, 3 every
switch answered but degraded (a method or a table failed and another method answered, or a
configured uplink is not on the switch).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sensor import log as sensor_log
from sensor.commands.common import add_config, load_or_problems


def configure(parser: argparse.ArgumentParser) -> None:
    add_config(parser)
    parser.add_argument(
        "--once", action="store_true",
        help="run one full cycle of every source, send everything to the hub, and exit",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=None, metavar="SECONDS",
        help="with --once: how long to wait for the hub to acknowledge (default: mqtt.drain_timeout)",
    )
    parser.add_argument("--log-format", choices=sensor_log.FORMATS, default=None,
                        help="human (a terminal), json (journald) or auto (default; "
                             f"${sensor_log.FORMAT_ENV} overrides auto)")
    parser.add_argument("--log-json", action="store_const", const="json", dest="log_format",
                        help="the same as --log-format json")


def run(args: argparse.Namespace) -> int:
    cfg = load_or_problems(args)
    if isinstance(cfg, int):
        return cfg
    sensor_log.configure(cfg.sensor.log_level, fmt=args.log_format)
    from sensor.malloc import limit_arenas
    from sensor.supervisor import run_sensor

    limit_arenas()  # before the event loop starts its helper threads

    code, reason = asyncio.run(run_sensor(cfg, once=args.once, drain_timeout=args.drain_timeout))
    if code and reason:
        print(f"sensor run: {reason}", file=sys.stderr)
    return code
