"""``sensor parse --platform P --command "C" FILE [--json]``: what the sensor makes of a saved output.

For network engineers checking a switch the sensor cannot reach yet, and for tests:
FILE is a command's output (text, or JSON/XML where the platform prints it) or a
NETCONF reply; the facts are exactly what a poll over CLI or NETCONF would produce.
``--json`` prints one object with keys ``platform``, ``command``, ``table``,
``interfaces``, ``fdb``, ``arp``, ``lldp``, ``cdp``, ``ports`` (key -> interface name),
``notes`` and ``errors``. Exit status: 0 parsed, 1 the output could not be mapped,
2 usage. A file that cannot be read or parsed is
reported on stderr by name and the others are still read (exit status 1).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from collectors.cli.parse import PLATFORMS
from sensor.inputs import InputError, read_limited

# A whole MAC table of a large chassis is a few MB; far more is not a command's output.
MAX_INPUT = 64 * 1024 * 1024


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", "-p", required=True, choices=PLATFORMS, metavar="PLATFORM",
                        help=f"the switch's platform: {', '.join(PLATFORMS)}")
    parser.add_argument("--command", "-C", required=True, metavar="COMMAND", action="append",
                        help='the command (or RPC) that produced FILE, e.g. "show mac address-table"; '
                        "repeat it once per FILE to read several outputs of one switch together "
                        "(e.g. LLDP detail and brief)")
    parser.add_argument("file", metavar="FILE", nargs="+", help="the saved output; - reads standard input")
    parser.add_argument("--switch", default="switch", help="the switch name to put in the facts")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def run(args: argparse.Namespace) -> int:
    from collectors.cli.parse import ParseError, command_table, parse

    commands: list[str] = args.command
    if len(commands) == 1:
        commands = commands * len(args.file)
    if len(commands) != len(args.file):
        print(f"sensor parse: {len(args.file)} files but {len(commands)} --command options: "
              "give one command, or one per file", file=sys.stderr)
        return 2
    t = None
    status = 0
    for command, name in zip(commands, args.file, strict=True):
        try:
            text = read_limited(name, MAX_INPUT).decode("utf-8", errors="replace")
        except InputError as e:
            print(f"sensor parse: {e}", file=sys.stderr)
            status = 1
            continue
        try:
            t = parse(args.platform, command, text, switch=args.switch, tables=t)
        except ParseError as e:
            print(f"sensor parse: {name}: {e}", file=sys.stderr)
            status = 1
    if t is None:
        return 1
    assert t is not None
    tables = sorted({command_table(c) for c in commands})
    doc: dict[str, Any] = {
        "platform": args.platform, "command": commands[0] if len(set(commands)) == 1 else commands,
        "table": tables[0] if len(tables) == 1 else tables,
        "interfaces": t.interfaces or [], "fdb": t.fdb or [], "arp": t.arp or [],
        "lldp": t.lldp or [], "cdp": t.cdp or [],
        "ports": {str(k): v for k, v in sorted(t.ports.names.items())},
        "provided": t.provided(), "notes": t.notes, "errors": t.errors,
    }
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(doc) + b"\n")
        sys.stdout.flush()
        return status
    _print(doc, t.ports.names)
    return status


def _print(doc: dict[str, Any], names: dict[int, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()

    def port(k: int | None) -> str:
        return "-" if k is None else names.get(k, str(k))

    console.print(f"{doc['platform']} {doc['command']!r} -> {doc['table']}; tables: "
                  f"{', '.join(doc['provided']) or 'none'}")
    specs: list[tuple[str, tuple[str, ...], Any]] = [
        ("interfaces", ("port", "alias", "speed", "oper", "MAC"),
         lambda i: (port(i.ifindex), i.alias, f"{i.speed}M" if i.speed else "",
                    {True: "up", False: "down", None: "?"}[i.oper_up], i.phys_address or "")),
        ("fdb", ("MAC", "VLAN", "port", "status"), lambda f: (f.mac, str(f.vlan or "-"), port(f.ifindex), f.status)),
        ("arp", ("IP", "MAC", "interface"), lambda a: (a.ip, a.mac, port(a.ifindex))),
        ("lldp", ("local port", "system", "port", "chassis", "capabilities", "address"),
         lambda n: (port(n.ifindex), n.sys_name, n.port_id, n.chassis_id, ",".join(n.capabilities), n.mgmt_ip or "")),
        ("cdp", ("local port", "system", "port", "platform", "address"),
         lambda n: (port(n.ifindex), n.sys_name, n.port_id, n.platform, n.mgmt_ip or "")),
    ]
    for key, cols, row in specs:
        if not doc[key]:
            continue
        t = Table(title=f"{key} ({len(doc[key])})")
        for c in cols:
            t.add_column(c)
        for item in doc[key]:
            t.add_row(*row(item))
        console.print(t)
    for note in doc["notes"]:
        console.print(f"[dim]note:[/dim] {note}", highlight=False)
