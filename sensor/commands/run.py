"""``sensor run --config FILE [--once]``: the service, or one cycle for scripts."""

from __future__ import annotations

import argparse
import asyncio
import sys

from sensor import log as sensor_log
from sensor.config import load_config
from sensor.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", required=True, metavar="FILE", help="the sensor's TOML configuration")
    parser.add_argument(
        "--once", action="store_true",
        help="run one full cycle of every source, send everything to the hub, and exit",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=None, metavar="SECONDS",
        help="with --once: how long to wait for the hub to acknowledge (default: mqtt.drain_timeout)",
    )
    parser.add_argument("--log-json", action="store_true", default=None, help="JSON log lines even on a terminal")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return 2
    sensor_log.configure(cfg.sensor.log_level, json=args.log_json)
    from sensor.supervisor import run_sensor

    code, reason = asyncio.run(run_sensor(cfg, once=args.once, drain_timeout=args.drain_timeout))
    if code and reason:
        print(f"sensor run: {reason}", file=sys.stderr)
    return code
