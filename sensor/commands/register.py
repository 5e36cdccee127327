"""``sensor register check FILE`` and ``sensor register reconcile --config FILE``: the asset register.

``check`` reads a register export the way the sensor will and lists every problem as
``file:line:column: message`` on stderr (exit 2), or says which column each field was
read from and how many rows it holds (exit 0). ``reconcile`` matches the configured
register with the devices in the local store and prints what matched, what was not
seen and the shadow devices (exit 0; 2 when the configuration or register is unusable).
"""

from __future__ import annotations

import argparse
import sys
import time

import msgspec

from sensor.commands.common import add_config, config_path
from sensor.config import load_config
from sensor.errors import ConfigError
from sensor.evidence.io import load_register
from sensor.evidence.register import FIELDS, Settings, reconcile


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    chk = sub.add_parser("check", help="validate a register CSV export (every problem with file:line:column)")
    chk.add_argument("file", metavar="FILE", help="the register's CSV export")
    chk.add_argument("--config", "-c", metavar="CONFIG", help="take the column mapping from [register.columns]")
    chk.add_argument("--column", action="append", default=[], metavar="FIELD=HEADER",
                     help=f"the export's header for a field (repeatable); fields: {', '.join(FIELDS)}")
    rec = sub.add_parser("reconcile", help="match the configured register with the devices in the local store")
    add_config(rec)
    rec.add_argument("--json", action="store_true", help="print the register message's data as JSON")


def _config(path: str) -> object:
    try:
        return load_config(path, check_files=False)
    except ConfigError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        return None


def _check(args: argparse.Namespace) -> int:
    columns: dict[str, str] = {}
    if args.config:
        cfg = _config(config_path(args) or "")
        if cfg is None:
            return 2
        reg = getattr(cfg, "register", None)
        if reg is not None:
            columns.update(reg.columns)
    for item in args.column:
        fld, sep, header = item.partition("=")
        if not sep or fld not in FIELDS:
            print(f"sensor register check: --column {item}: expected FIELD=HEADER with FIELD one of "
                  f"{', '.join(FIELDS)}", file=sys.stderr)
            return 2
        columns[fld] = header
    parsed = load_register(args.file, columns)
    for p in parsed.problems:
        print(p, file=sys.stderr)
    print(f"{args.file}: {len(parsed.rows)} rows usable, {parsed.rejected} rejected")
    for fld in FIELDS:
        if fld in parsed.columns:
            print(f"  {fld:15} <- \"{parsed.columns[fld]}\"")
    missing = [f for f in FIELDS if f not in parsed.columns and f != "firmware"]
    if missing:
        print(f"  not in the file: {', '.join(missing)}")
    return 2 if parsed.problems else 0


def _reconcile(args: argparse.Namespace) -> int:
    from sensor.commands.inventory import load_devices
    from sensor.config import Config
    from sensor.correlate.model import DeviceRecord

    cfg = _config(config_path(args) or "")
    if not isinstance(cfg, Config):
        return 2
    if cfg.register is None:
        print(f"sensor register reconcile: {cfg.path} has no [register] section: add one with "
              'file = "/path/to/register.csv"', file=sys.stderr)
        return 2
    parsed = load_register(cfg.register.file, {str(k): v for k, v in cfg.register.columns.items()})
    for p in parsed.problems:
        print(p, file=sys.stderr)
    records = []
    for d in load_devices(cfg.sensor.state_dir):
        try:
            records.append(msgspec.convert(d, DeviceRecord, strict=False))
        except msgspec.ValidationError as e:
            print(f"sensor register reconcile: skipped a stored record ({d.get('mac', '?')}): {e}", file=sys.stderr)
    settings = Settings(unseen_after=float(cfg.register.unseen_after), locations=cfg.register.locations)
    r = reconcile(parsed.rows, records, time.time(), file=cfg.register.file, rejected=parsed.rejected,
                  settings=settings)
    s = r.summary
    if args.json:
        sys.stdout.write(msgspec.json.encode(s).decode() + "\n")
        return 0
    print(f"{s.rows} register rows ({s.rows_rejected} rejected), {len(records)} devices in the store")
    print(f"matched: {s.matched} ({', '.join(f'{k} {v}' for k, v in s.matched_by.items())})")
    for m in s.matches:
        print(f"  {m.asset_tag}: {m.mac} by {m.detail}" + "".join(f"; {n}" for n in m.notes))
    print(f"unseen for {s.unseen_after_days:g} days or never: {s.unseen}")
    for u in s.unseen_assets:
        print(f"  {u.asset_tag} {u.manufacturer} {u.model} ({u.location}){' HIGH RISK' if u.high_risk else ''}: "
              f"{u.why}")
    print(f"shadow medical devices (on the network, not in the register): {s.shadows}")
    for sh in s.shadow_devices:
        print(f"  {sh.mac} {sh.vendor or '?'} {sh.device_class} on {sh.switch or '?'} {sh.port or ''} "
              f"{' '.join(sh.ips)}")
    return 0


def run(args: argparse.Namespace) -> int:
    return _check(args) if args.action == "check" else _reconcile(args)
