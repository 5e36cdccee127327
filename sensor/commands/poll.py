"""``sensor poll --config FILE SWITCH [--json]``: poll one switch now and print what it knows.

The first command a network engineer runs when adding a switch: it says at once
whether the address and credentials work, and shows the interfaces, forwarding
table, ARP/ND and neighbours the sensor will work from. The switch is polled with its
``methods`` in order of preference (sensor/switches/methods.py: a table one method cannot
provide is read over the next), and the output says which method produced each table.
``--json`` prints exactly one JSON object (keys ``system``, ``interfaces``, ``fdb``,
``arp``, ``lldp``, ``cdp``, ``errors``, and ``methods``: table -> method) for
scripts. Exit status: 0 polled, 1 the switch could not be polled (one
line on stderr saying why), 2 configuration problem.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec

from collectors.facts import TABLES, Snapshot
from sensor.config import SwitchSection, load_config
from sensor.errors import ConfigError, SourceError
from sensor.switches.methods import SwitchPoll, poll_switch

DEFAULT_CONFIG = "/etc/edge-sensor/sensor.toml"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", metavar="FILE", default=DEFAULT_CONFIG,
                        help=f"the sensor's TOML configuration (default {DEFAULT_CONFIG})")
    parser.add_argument("switch", metavar="SWITCH", help="the name of a [[switch]] in the configuration")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    """The --json document: the snapshot's facts under fixed keys."""
    return {
        "system": snap.system,
        "interfaces": snap.interfaces,
        "fdb": snap.fdb,
        "arp": snap.arp,
        "lldp": [n for n in snap.lldp if n.protocol == "lldp"],
        "cdp": [n for n in snap.lldp if n.protocol == "cdp"],
        "errors": snap.errors,
        "methods": snap.table_methods or {t: snap.method for t in TABLES},
    }


async def _poll(cfg_switch: SwitchSection) -> SwitchPoll:
    try:
        async with asyncio.timeout(float(cfg_switch.deadline)):
            return await poll_switch(cfg_switch)
    except TimeoutError:
        raise SourceError(f"poll of {cfg_switch.host} did not finish within the switch's deadline "
                          f"({float(cfg_switch.deadline):g}s)") from None
    finally:
        if "snmp" in cfg_switch.methods:
            from collectors.snmp import close_engines

            close_engines()


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    sw = cfg.find_switch(args.switch)
    if sw is None:
        known = ", ".join(s.name for s in cfg.switch) or "none configured"
        raise ConfigError([f"{cfg.path}: no [[switch]] named \"{args.switch}\" (switches: {known})"])
    lacking = [m for m in sw.methods if getattr(sw, m, None) is None]
    if lacking:
        raise ConfigError([f"{cfg.path}: switch \"{sw.name}\" lists method(s) {', '.join(lacking)} without a "
                           f"[switch.{lacking[0]}] table: nothing to poll that way"])
    try:
        result = asyncio.run(_poll(sw))
    except SourceError as e:
        print(f"sensor poll: {sw.name}: {e}", file=sys.stderr)
        return 1
    snap: Snapshot = result.snapshot
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(snapshot_json(snap)) + b"\n")
        sys.stdout.flush()
    else:
        _print_tables(snap, result)
    return 0


def _print_tables(snap: Snapshot, result: SwitchPoll) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    s = snap.system
    names = {i.ifindex: i.name for i in snap.interfaces}

    def port(ifindex: int | None) -> str:
        return "-" if ifindex is None else names.get(ifindex, f"ifIndex {ifindex}")

    methods = snap.table_methods or {t: snap.method for t in TABLES}

    def via(table: str) -> str:
        return f" via {methods.get(table, snap.method)}"

    snmp = result.snmp
    if s is not None:
        console.print(f"[bold]{snap.switch}[/bold]: {s.sys_name or '(no sysName)'}  {s.sys_object_id}")
        console.print(f"  {s.sys_descr.splitlines()[0] if s.sys_descr else ''}")
        console.print(f"  bridge address {s.base_mac or '-'}; polled in {result.duration_s:.2f}s"
                      + (f", {snmp.requests} requests, {snmp.varbinds} varbinds" if snmp else ""))
    console.print("  methods: " + ", ".join(f"{t} <- {m}" for t, m in methods.items()), highlight=False)
    for m, why in result.failures.items():
        console.print(f"[yellow]{m} failed:[/yellow] {why}", highlight=False)

    t = Table(title=f"Interfaces ({len(snap.interfaces)}){via('interfaces')}")
    for col in ("ifIndex", "name", "alias", "type", "speed", "oper", "MAC", "LAG"):
        t.add_column(col)
    for i in snap.interfaces:
        t.add_row(str(i.ifindex), i.name, i.alias, str(i.if_type or ""), f"{i.speed}M" if i.speed else "",
                  {True: "up", False: "down", None: "?"}[i.oper_up], i.phys_address or "", port(i.lag_ifindex)
                  if i.lag_ifindex else "")
    console.print(t)

    t = Table(title=f"Forwarding table ({len(snap.fdb)}){via('fdb')}")
    for col in ("MAC", "VLAN", "port", "status"):
        t.add_column(col)
    for f in snap.fdb:
        t.add_row(f.mac, str(f.vlan or "-"), port(f.ifindex), f.status)
    console.print(t)

    t = Table(title=f"ARP / IPv6 neighbours ({len(snap.arp)}){via('arp')}")
    for col in ("IP", "MAC", "interface"):
        t.add_column(col)
    for a in snap.arp:
        t.add_row(a.ip, a.mac, port(a.ifindex))
    console.print(t)

    t = Table(title=f"LLDP / CDP neighbours ({len(snap.lldp)}){via('lldp')}"
              + (f", CDP{via('cdp')}" if methods.get('cdp') != methods.get('lldp') else ""))
    for col in ("local port", "protocol", "system", "port", "chassis", "capabilities", "address"):
        t.add_column(col)
    for n in snap.lldp:
        med = " ".join(x for x in (n.med_manufacturer, n.med_model) if x)
        system = f"{n.sys_name} (LLDP-MED: {med})" if med else n.sys_name
        t.add_row(port(n.ifindex), n.protocol, system, n.port_id or n.port_descr, n.chassis_id,
                  ",".join(n.capabilities), n.mgmt_ip or "")
    console.print(t)

    for note in snap.notes:
        console.print(f"[dim]note:[/dim] {note}", highlight=False)
    for err in snap.errors:
        console.print(f"[yellow]incomplete:[/yellow] {err}", highlight=False)
