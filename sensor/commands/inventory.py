"""``sensor inventory [-c FILE] [--json | --csv | --explain MAC]``: the devices in the local store.

Answers "where are my pumps and how exposed are they": one line per device, the riskiest
first (``--sort``), with the risk level and its main reason. A MAC is never cut: when the
terminal is narrow, less important columns give way (``--wide`` shows them all). Unknown
``--class`` or ``--switch`` values are refused with the known ones; a filter that matches
nothing says so. ``--explain MAC`` prints everything known about one device and why.
Exit status: 0, 1 (``--explain``: no such device), 2 (configuration or an unknown filter value).
"""

from __future__ import annotations

import argparse
import csv
import difflib
import sys
from collections.abc import Iterable
from typing import Any

import msgspec

from sensor.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    RESET,
    Column,
    add_config,
    colour_enabled,
    config_path,
    load_or_problems,
    render,
    risk_style,
    width,
    wrap_items,
)
from sensor.config import Config
from sensor.errors import ConfigError
from sensor.publish.outbox import outbox_path, read_retained

# The CSV's columns (and --json records carry everything).
COLUMNS = ("switch", "port", "vlan", "mac", "vendor", "ips", "class", "risk", "last_seen",
           "risk_level", "risk_reason", "medical", "confidence")
SORTS = ("risk", "mac", "switch", "class", "vendor", "last-seen")
LEVELS = {"critical": 3, "high": 2, "medium": 1, "low": 0}


def configure(parser: argparse.ArgumentParser) -> None:
    add_config(parser)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON array of device records")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    fmt.add_argument("--explain", metavar="MAC", help="everything known about one device, and why")
    parser.add_argument("--class", dest="device_class", action="append", metavar="CLASS",
                        help="only devices of this class (repeat for several), e.g. infusion_pump")
    parser.add_argument("--medical", action="store_true", help="only medical devices")
    parser.add_argument("--switch", action="append", metavar="NAME", help="only devices on this switch (repeatable)")
    parser.add_argument("--min-risk", type=int, default=None, metavar="N", help="only devices with risk >= N (0-100)")
    parser.add_argument("--all", action="store_true", help="include devices that have disappeared")
    parser.add_argument("--sort", choices=SORTS, default="risk",
                        help="order of the rows (default: risk, highest first)")
    parser.add_argument("--wide", action="store_true", help="every column, whatever the terminal's width")


def main_reason(record: dict[str, Any]) -> str:
    """The risk factor that weighs most, in words."""
    factors = (record.get("risk") or {}).get("factors") or []
    if not factors:
        return ""
    top = max(factors, key=lambda f: f.get("points", 0))
    name = str(top.get("name") or "").replace("_", " ")
    detail = str(top.get("detail") or "")
    if not detail:
        return name
    # Details often begin with the factor's own name ("flat network: shares VLAN 10 ..."): say it once.
    return detail if detail.replace("_", " ").lower().startswith(name.lower()) else f"{name}: {detail}"


def _row(record: dict[str, Any]) -> dict[str, str]:
    att = record.get("attachment") or {}
    cls = record.get("classification") or {}
    risk = record.get("risk") or {}
    ips = record.get("ips") or []
    conf = att.get("confidence")
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
        "risk_level": str(risk.get("level") or ""),
        "risk_reason": main_reason(record),
        "medical": "" if not isinstance(cls, dict) else ("yes" if cls.get("medical") else "no"),
        "confidence": "" if conf is None else f"{conf:.2f}",
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


def sort_key(how: str) -> Any:
    def risk(d: dict[str, Any]) -> tuple[int, int, str]:
        r = d.get("risk") or {}
        return (-int(r.get("score") or 0), -LEVELS.get(str(r.get("level")), -1), str(d.get("mac")))

    def by(*path: str) -> Any:
        def key(d: dict[str, Any]) -> tuple[str, str]:
            v: Any = d
            for p in path:
                v = (v or {}).get(p) if isinstance(v, dict) else None
            return (str(v or "~"), str(d.get("mac")))
        return key

    return {"risk": risk, "mac": lambda d: str(d.get("mac")), "switch": by("attachment", "switch"),
            "class": by("classification", "device_class"), "vendor": by("vendor"),
            "last-seen": lambda d: tuple(-ord(c) for c in str(d.get("last_seen", "")))}[how]


def _known_classes(cfg: Config, devices: Iterable[dict[str, Any]]) -> set[str]:
    known = {str((d.get("classification") or {}).get("device_class")) for d in devices}
    try:
        from sensor.classify.rules import load_rules

        known |= set(load_rules(cfg.classification.rules_file).classes)
    except ConfigError:
        pass
    return known - {"None"}


def _refuse_unknown(what: str, given: list[str] | None, known: set[str]) -> str | None:
    for g in given or []:
        if g not in known:
            close = difflib.get_close_matches(g, sorted(known), n=3, cutoff=0.5)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            return (f"sensor inventory: unknown {what} \"{g}\"{hint}; known: {', '.join(sorted(known)) or 'none'}")
    return None


def run(args: argparse.Namespace) -> int:
    cfg = load_or_problems(args, check_files=False)
    if isinstance(cfg, int):
        return cfg
    store = outbox_path(cfg.sensor.state_dir)
    if not store.is_file():
        print(f"sensor inventory: there is no sensor state in {cfg.sensor.state_dir} (no {store.name}): "
              f"check sensor.state_dir in {config_path(args)}, or run `sensor run` first", file=sys.stderr)
        return EXIT_USAGE
    damaged: list[str] = []
    stored = load_devices(cfg.sensor.state_dir, damaged)
    for what in damaged:
        print(f"sensor inventory: {store}: skipped a damaged record {what}", file=sys.stderr)
    status = EXIT_FAILED if damaged else EXIT_OK
    if args.explain:
        code = explain(stored, args.explain)
        return code if code != EXIT_OK else status
    for what, given, known in (("class", args.device_class, _known_classes(cfg, stored) if args.device_class
                                else set()),
                               ("switch", args.switch, {s.name for s in cfg.switch} |
                                {str((d.get("attachment") or {}).get("switch")) for d in stored} - {"None"})):
        refusal = _refuse_unknown(what, given, known)
        if refusal:
            print(refusal, file=sys.stderr)
            return EXIT_USAGE
    devices = sorted((d for d in stored if _wanted(d, args)), key=sort_key(args.sort))
    if args.json:
        sys.stdout.write(msgspec.json.encode(devices).decode() + "\n")
        return status
    rows = [_row(d) for d in devices]
    if args.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
        return status
    if not stored:
        print(f"The local store in {cfg.sensor.state_dir} has no devices yet: run `sensor run` with switches "
              "configured.", file=sys.stderr)
        return status
    if not rows:
        hidden = sum(1 for d in stored if d.get("present") is False)
        print(f"no device matches ({len(stored)} in the store"
              + (f", {hidden} of them disappeared: --all shows those" if hidden and not args.all else "")
              + ")", file=sys.stderr)
        return status
    on = colour_enabled()
    for r in rows:
        r["level"] = f"{r['risk_level']} {r['risk']}".strip()
        r["medical_flag"] = "yes" if r["medical"] == "yes" else ""
    cols = [Column("mac", "MAC", keep=0), Column("level", "risk", keep=0), Column("class", "class", keep=9),
            Column("switch", "switch", keep=8), Column("port", "port", keep=8),
            Column("risk_reason", "main reason", keep=6, cut=True, min_width=13),
            Column("medical_flag", "med", keep=5), Column("vlan", "VLAN", keep=4, right=True),
            Column("ips", "IPs", keep=3, cut=True, min_width=15), Column("vendor", "vendor", keep=4, cut=True,
                                                                         min_width=12),
            Column("confidence", "conf", keep=2, right=True), Column("last_seen", "last seen", keep=1)]
    for r in rows:  # the first address is enough at a glance; --wide or --json for all of them
        if not args.wide:
            ips = r["ips"].split()
            r["ips"] = ips[0] + (f" +{len(ips) - 1}" if len(ips) > 1 else "") if ips else ""
    styles = [{"level": risk_style(r["risk_level"], on)} for r in rows]
    lines, dropped = render(cols, rows, None if args.wide else width(), styles=styles)
    title = f"{len(rows)} device{'s' if len(rows) != 1 else ''} at {cfg.sensor.site} ({cfg.sensor.id}), " \
            f"by {args.sort}"
    sys.stdout.write(title + "\n" + "\n".join(lines) + "\n")
    if dropped:
        sys.stdout.write("\n".join(wrap_items("not shown:", [*dropped, "--wide shows them"],
                                               None if args.wide else width(), indent=2)) + "\n")
    return status


def explain(devices: list[dict[str, Any]], mac: str) -> int:
    """Everything the store knows about one device, and why."""
    want = mac.strip().lower().replace("-", ":")
    d = next((x for x in devices if str(x.get("mac")).lower() == want), None)
    if d is None:
        close = difflib.get_close_matches(want, [str(x.get("mac")) for x in devices], n=3, cutoff=0.6)
        print(f"sensor inventory: no device {mac} in the store" +
              (f" (did you mean {' or '.join(close)}?)" if close else ""), file=sys.stderr)
        return EXIT_FAILED
    w = sys.stdout.write
    cls = d.get("classification") or {}
    risk = d.get("risk") or {}
    att = d.get("attachment") or {}
    on = colour_enabled()
    w(f"{d['mac']}  {d.get('vendor') or 'unknown vendor'}" + (f" ({d['oui']})" if d.get("oui") else "")
      + ("" if d.get("present", True) else "  DISAPPEARED") + "\n")
    if d.get("vendor_note"):
        w(f"  note: {d['vendor_note']}\n")
    if d.get("locally_administered"):
        w("  locally administered (randomised) MAC: the vendor cannot be known from it\n")
    w(f"  seen {d.get('first_seen')} .. {d.get('last_seen')}\n")
    w(f"\nclass: {cls.get('device_class')} ({cls.get('label')}), "
      f"{'medical' if cls.get('medical') else 'not medical'}, confidence {cls.get('confidence', 0):.2f}\n")
    if cls.get("clinical_function"):
        w(f"  clinical function: {cls['clinical_function']}\n")
    for r in cls.get("reasons") or []:
        w(f"  because {r}\n")
    level = str(risk.get("level", ""))
    style = risk_style(level, on)
    w(f"\nrisk: {style}{level} {risk.get('score')}{RESET if style else ''}/100\n")
    for f in sorted(risk.get("factors") or [], key=lambda f: -abs(f.get("points", 0))):
        w(f"  {f.get('points', 0):+4d}  {f.get('name')}: {f.get('detail')}\n")
    w("\nwhere: ")
    if att:
        vlan = f", VLAN {att['vlan']}" if att.get("vlan") is not None else ""
        w(f"{att.get('switch')} {att.get('port')}{vlan}, confidence {att.get('confidence', 0):.2f}\n")
        for e in att.get("evidence") or []:
            w(f"  because {e}\n")
        for f in att.get("flags") or []:
            w(f"  flag: {f}\n")
    else:
        w("unknown (no switch has learned it on a port)\n")
    ips = d.get("ips") or []
    if ips:
        w("\naddresses:\n")
        for i in ips:
            w(f"  {i.get('ip')}  (from {i.get('router')}'s table, last seen {i.get('last_seen')})\n")
    n = d.get("neighbour")
    if n:
        w(f"\nsays about itself over {str(n.get('protocol', '')).upper()}: {n.get('sys_name')}"
          + (f", {n.get('manufacturer')} {n.get('model')}".rstrip() if n.get("manufacturer") else "")
          + (f", capabilities {', '.join(n.get('capabilities') or [])}" if n.get("capabilities") else "") + "\n")
    for f in d.get("flags") or []:
        w(f"flag: {f}\n")
    return EXIT_OK
