"""``sensor inventory --config FILE [--json | --csv]``: the devices in the local store."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

import msgspec

from sensor.config import load_config
from sensor.errors import ConfigError
from sensor.publish.outbox import outbox_path, read_retained

COLUMNS = ("switch", "port", "vlan", "mac", "vendor", "ips", "class", "risk", "last_seen")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", required=True, metavar="FILE", help="the sensor's TOML configuration")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON array of device records")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    parser.add_argument("--class", dest="device_class", action="append", metavar="CLASS",
                        help="only devices of this class (repeat for several), e.g. infusion_pump")
    parser.add_argument("--medical", action="store_true", help="only medical devices")
    parser.add_argument("--switch", action="append", metavar="NAME", help="only devices on this switch (repeatable)")
    parser.add_argument("--min-risk", type=int, default=None, metavar="N", help="only devices with risk >= N (0-100)")
    parser.add_argument("--all", action="store_true", help="include devices that have disappeared")


def _row(record: dict[str, Any]) -> dict[str, str]:
    att = record.get("attachment") or {}
    cls = record.get("classification") or {}
    risk = record.get("risk") or {}
    ips = record.get("ips") or []
    return {
        "switch": str(att.get("switch", "")),
        "port": str(att.get("port", "")),
        "vlan": "" if att.get("vlan") is None else str(att.get("vlan")),
        "mac": str(record.get("mac", "")),
        "vendor": str(record.get("vendor") or ""),
        "ips": " ".join(str(i.get("ip", i)) if isinstance(i, dict) else str(i) for i in ips),
        "class": str(cls.get("device_class", "") if isinstance(cls, dict) else cls),
        "risk": "" if risk.get("score") is None else str(risk.get("score")),
        "last_seen": str(record.get("last_seen", "")),
    }


def load_devices(state_dir: str, damaged: list[str] | None = None) -> list[dict[str, Any]]:
    """Current device records from the local store, oldest MAC first.

    A stored record that cannot be decoded is skipped and its topic added to ``damaged``
    (when given), so that one bad row does not hide the rest of the inventory.
    """
    devices = []
    for topic, payload in read_retained(state_dir, "devices/"):
        if not payload:
            continue
        try:
            env = msgspec.json.decode(payload)
        except (msgspec.DecodeError, RecursionError) as e:
            if damaged is not None:
                damaged.append(f"{topic}: {e}")
            continue
        if isinstance(env, dict) and isinstance(env.get("data"), dict):
            devices.append(env["data"])
        elif damaged is not None:
            damaged.append(f"{topic}: not a device record envelope")
    return devices


def _wanted(record: dict[str, Any], args: argparse.Namespace) -> bool:
    """The --class/--medical/--switch/--min-risk/--all filters."""
    cls = record.get("classification") or {}
    att = record.get("attachment") or {}
    risk = record.get("risk") or {}
    if not getattr(args, "all", False) and record.get("present") is False:
        return False
    if getattr(args, "device_class", None) and cls.get("device_class") not in args.device_class:
        return False
    if getattr(args, "medical", False) and not cls.get("medical"):
        return False
    if getattr(args, "switch", None) and att.get("switch") not in args.switch:
        return False
    min_risk = getattr(args, "min_risk", None)
    return not (min_risk is not None and (risk.get("score") or 0) < min_risk)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, check_files=False)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return 2
    store = outbox_path(cfg.sensor.state_dir)
    if not store.is_file():
        print(f"sensor inventory: there is no sensor state in {cfg.sensor.state_dir} (no {store.name}): "
              f"check sensor.state_dir in {args.config}, or run `sensor run` first", file=sys.stderr)
        return 2
    damaged: list[str] = []
    devices = [d for d in load_devices(cfg.sensor.state_dir, damaged) if _wanted(d, args)]
    for what in damaged:
        print(f"sensor inventory: {store}: skipped a damaged record {what}", file=sys.stderr)
    status = 1 if damaged else 0
    if args.json:
        sys.stdout.write(msgspec.json.encode(devices).decode() + "\n")
        return status
    rows = [_row(d) for d in devices]
    if args.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
        return status
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} devices at {cfg.sensor.site} ({cfg.sensor.id})")
    for c in COLUMNS:
        table.add_column(c)
    for r in rows:
        table.add_row(*(r[c] for c in COLUMNS))
    Console().print(table)
    if not rows:
        print("The local store has no devices yet: run `sensor run` with switches configured.")
    return status
