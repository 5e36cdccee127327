"""``sensor poll [-c FILE] SWITCH [--method M] [--json] [--wide]`` and ``sensor poll --all``.

The first command a network engineer runs when adding a switch: it says at once
whether the address and credentials work, then a summary (the uplinks it detects and
why, the access ports with end devices, the VLANs, the tables missing or incomplete),
then the interfaces, forwarding table, ARP/ND and neighbours the sensor will work from.
The switch is polled with its ``methods`` in order of preference
(sensor/switches/methods.py); ``--method`` polls with that one method alone, to test
each configured method on its own. ``--all`` polls every configured switch, one line each.

``--json`` prints exactly one JSON object (keys ``system``, ``interfaces``, ``fdb``,
``arp``, ``lldp``, ``cdp``, ``errors`` (every method failure and table problem),
``degraded``, ``summary`` and ``methods``: table -> method); with ``--all``, one object per
switch. Exit status: 0 polled, 1 the switch could not be polled (one line on stderr
saying why), 2 configuration problem, 3 polled but degraded (each reason on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import msgspec

from collectors.facts import TABLES, Snapshot
from sensor.commands.common import (
    EXIT_DEGRADED,
    EXIT_FAILED,
    EXIT_OK,
    Column,
    add_config,
    config_path,
    if_type,
    render,
    speed,
    width,
    wrap_items,
    wrap_words,
)
from sensor.config import Config, SwitchSection, load_config
from sensor.errors import ConfigError, SourceError
from sensor.switches.methods import METHODS, SwitchPoll, poll_switch, usable_methods
from sensor.switches.report import degraded, methods_used, rows


def configure(parser: argparse.ArgumentParser) -> None:
    add_config(parser)
    parser.add_argument("switch", metavar="SWITCH", nargs="?", help="the name of a [[switch]] in the configuration")
    parser.add_argument("--all", action="store_true", help="poll every configured switch, one line each")
    parser.add_argument("--method", choices=METHODS,
                        help="poll with this one configured method only (test each method on its own)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--wide", action="store_true", help="every column, whatever the terminal's width")


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


# --------------------------------------------------------------- the summary (pure)
def summary(sw: SwitchSection, snap: Snapshot) -> dict[str, Any]:
    """What an engineer onboarding a switch wants first, from this one snapshot.

    Uplinks and access ports come from the correlator's port roles (sensor/correlate/view.py)
    on this snapshot alone: a neighbour that is another polled switch is not known here, so
    such a port shows as a switch or router not polled, which is still an uplink.
    """
    from sensor.correlate.view import Settings, build_view

    view = build_view({sw.name: snap}, Settings(uplinks={sw.name: frozenset(sw.uplinks)},
                                                switch_hosts={sw.name: sw.host}))
    uplinks = []
    access = []
    vlans_by_port: dict[int | None, set[int]] = {}
    for f in snap.fdb:
        if f.vlan is not None:
            vlans_by_port.setdefault(f.ifindex, set()).add(f.vlan)
    for (_, ifindex), role in sorted(view.ports.items(), key=lambda kv: kv[1].name):
        if role.infra:
            uplinks.append({"port": role.name, "why": list(role.reasons)})
        elif role.mac_count:
            access.append({"port": role.name, "macs": role.mac_count, "phone": role.phone,
                           "vlans": sorted(vlans_by_port.get(ifindex, ()))})
    vlans = sorted({f.vlan for f in snap.fdb if f.vlan is not None} |
                   {v for i in snap.interfaces if i.if_type in (135, 136) for v in _vlan_of(i.name)})
    tables = []
    for t in TABLES:
        st = snap.status(t)
        n = rows(snap).get(t, int(snap.system is not None))
        if st is None:
            tables.append({"table": t, "rows": n, "method": snap.method, "state": "complete" if not snap.tables
                           else "not provided"})
            continue
        state = "complete" if st.complete else ("not offered" if not st.supported or all(
            p.kind == "unsupported" for p in st.problems) else "incomplete")
        tables.append({"table": t, "rows": n, "method": st.method, "state": state,
                       "problems": [str(p) for p in st.problems]})
    return {"uplinks": uplinks, "access_ports": access, "vlans": vlans, "tables": tables}


def _vlan_of(name: str) -> list[int]:
    digits = "".join(c for c in name if c.isdigit())
    return [int(digits)] if digits and name.lower().startswith(("vlan", "vl")) else []


# --------------------------------------------------------------- polling
async def _poll(cfg_switch: SwitchSection) -> SwitchPoll:
    try:
        async with asyncio.timeout(float(cfg_switch.deadline)):
            return await poll_switch(cfg_switch)
    except TimeoutError:
        raise SourceError(f"poll of {cfg_switch.host} did not finish within the switch's deadline "
                          f"({float(cfg_switch.deadline):g}s)") from None


async def _poll_many(switches: Sequence[SwitchSection], limit: int) -> list[SwitchPoll | SourceError]:
    sem = asyncio.Semaphore(limit)

    async def one(sw: SwitchSection) -> SwitchPoll | SourceError:
        async with sem:
            try:
                return await _poll(sw)
            except SourceError as e:
                return e
    try:
        return list(await asyncio.gather(*(one(sw) for sw in switches)))
    finally:
        if any("snmp" in sw.methods for sw in switches):
            from collectors.snmp import close_engines

            close_engines()


def _switch(cfg: Config, name: str, method: str | None) -> SwitchSection:
    sw = cfg.find_switch(name)
    if sw is None:
        known = ", ".join(s.name for s in cfg.switch) or "none configured"
        raise ConfigError([f"{cfg.path}: no [[switch]] named \"{name}\" (switches: {known})"])
    lacking = [m for m in sw.methods if getattr(sw, m, None) is None]
    if method is not None:
        if getattr(sw, method, None) is None:
            have = ", ".join(usable_methods(sw)) or "none"
            raise ConfigError([f"{cfg.path}: switch \"{sw.name}\" has no [switch.{method}] table: it cannot be "
                               f"polled over {method} (configured: {have})"])
        return msgspec.structs.replace(sw, methods=[method])
    if lacking:
        raise ConfigError([f"{cfg.path}: switch \"{sw.name}\" lists method(s) {', '.join(lacking)} without a "
                           f"[switch.{lacking[0]}] table: nothing to poll that way"])
    return sw


def run(args: argparse.Namespace) -> int:
    path = config_path(args)
    assert path is not None
    cfg = load_config(path)
    if args.all:
        if args.switch:
            raise ConfigError(["sensor poll: give a SWITCH or --all, not both"])
        return _run_all(cfg, args)
    if not args.switch:
        known = ", ".join(s.name for s in cfg.switch) or "none configured"
        raise ConfigError([f"sensor poll: which switch? give its name, or --all (switches: {known})"])
    sw = _switch(cfg, args.switch, args.method)
    (result,) = asyncio.run(_poll_many([sw], 1))
    if isinstance(result, SourceError):
        print(f"sensor poll: {sw.name}: {result}", file=sys.stderr)
        return EXIT_FAILED
    snap = result.snapshot
    problems = degraded(result, sw.uplinks)
    if args.json:
        doc = snapshot_json(snap)
        doc["errors"] = [*(f"{m}: {why}" for m, why in result.failures.items()), *snap.errors]
        doc["degraded"] = problems
        doc["summary"] = summary(sw, snap)
        sys.stdout.buffer.write(msgspec.json.encode(doc) + b"\n")
        sys.stdout.flush()
    else:
        _print(sw, snap, result, problems, None if args.wide else width())
    for p in problems:
        print(f"sensor poll: {sw.name}: {p}", file=sys.stderr)
    return EXIT_DEGRADED if problems else EXIT_OK


def _run_all(cfg: Config, args: argparse.Namespace) -> int:
    switches = [msgspec.structs.replace(s, methods=[args.method]) if args.method else s
                for s in cfg.switch if (getattr(s, args.method, None) is not None if args.method
                                        else usable_methods(s))]
    if not switches:
        raise ConfigError([f"{cfg.path}: no switch to poll" + (f" over {args.method}" if args.method else "")])
    results = asyncio.run(_poll_many(switches, cfg.poll.max_concurrent_switches))
    code = EXIT_OK
    lines: list[dict[str, str]] = []
    docs: list[dict[str, Any]] = []
    for sw, res in zip(switches, results, strict=True):
        if isinstance(res, SourceError):
            code = EXIT_FAILED
            lines.append({"switch": sw.name, "host": sw.host, "state": "FAILED", "via": "+".join(usable_methods(sw)),
                          "time": "", "rows": "", "why": str(res)})
            docs.append({"switch": sw.name, "host": sw.host, "state": "failed", "errors": [str(res)]})
            continue
        problems = degraded(res, sw.uplinks)
        if problems and code == EXIT_OK:
            code = EXIT_DEGRADED
        r = rows(res.snapshot)
        lines.append({"switch": sw.name, "host": sw.host, "state": "degraded" if problems else "ok",
                      "via": "+".join(methods_used(res.snapshot)), "time": f"{res.duration_s:.1f}s",
                      "rows": f"{r['interfaces']} if, {r['fdb']} fdb, {r['arp']} arp, {r['lldp'] + r['cdp']} nbr",
                      "why": "; ".join(problems)})
        docs.append({"switch": sw.name, "host": sw.host, "state": "degraded" if problems else "ok",
                     "methods": res.snapshot.table_methods, "rows": r, "duration_s": round(res.duration_s, 3),
                     "errors": [*(f"{m}: {why}" for m, why in res.failures.items()), *res.snapshot.errors],
                     "degraded": problems})
    if args.json:
        sys.stdout.write(msgspec.json.encode(docs).decode() + "\n")
        return code
    cols = [Column("switch", "switch", keep=0), Column("state", "state", keep=0), Column("via", "via", keep=4),
            Column("time", "time", keep=3, right=True), Column("rows", "tables", keep=2),
            Column("host", "host", keep=1), Column("why", "problem", keep=5, cut=True, min_width=20)]
    out, _ = render(cols, lines, None if args.wide else width())
    sys.stdout.write("\n".join(out) + "\n")
    return code


# --------------------------------------------------------------- people
def _print(sw: SwitchSection, snap: Snapshot, result: SwitchPoll, problems: list[str], cols: int | None) -> None:
    w = sys.stdout.write
    s = snap.system
    names = {i.ifindex: i.name for i in snap.interfaces}

    def port(ifindex: int | None) -> str:
        return "-" if ifindex is None else names.get(ifindex, f"ifIndex {ifindex}")

    methods = snap.table_methods or {t: snap.method for t in TABLES}
    snmp = result.snmp
    head = f"{sw.name} ({sw.host})"
    if s is not None:
        head += f": {s.sys_name or '(no sysName)'}"
        descr = s.sys_descr.splitlines()[0] if s.sys_descr else ""
        if descr:
            head += f", {descr}"

    def say(text: str) -> None:
        w("".join(f"{ln}\n" for ln in wrap_words(text, cols)))

    say(head)
    say(f"  polled in {result.duration_s:.1f}s via {'+'.join(methods_used(snap))}"
        + (f" ({snmp.requests} requests, {snmp.varbinds} varbinds)" if snmp else "")
        + (f"; bridge address {s.base_mac}" if s and s.base_mac else "")
        + (f"; LLDP chassis {s.lldp_chassis_id}" if s and s.lldp_chassis_id else ""))

    for p in problems:
        say(f"  DEGRADED: {p}")

    summ = summary(sw, snap)
    w("\nSummary\n")
    if summ["uplinks"]:
        for u in summ["uplinks"]:
            say(f"  uplink {u['port']}: {'; '.join(u['why'])}")
    else:
        say("  uplinks: none detected (no LLDP/CDP neighbour that is a switch, no configured uplink, no LAG)")
    if summ["access_ports"]:
        parts = []
        for a in summ["access_ports"]:
            extra = [f"{a['macs']} MAC{'s' if a['macs'] > 1 else ''}"]
            if a["vlans"]:
                extra.append("VLAN " + ",".join(map(str, a["vlans"])))
            if a["phone"]:
                extra.append(f"phone {a['phone']}")
            parts.append(f"{a['port']} ({', '.join(extra)})")
        w("".join(f"{ln}\n" for ln in wrap_items(f"  access ports with end devices ({len(parts)}):", parts, cols)))
    else:
        w("  access ports with end devices: none\n")
    w("".join(f"{ln}\n" for ln in wrap_items("  VLANs:", [str(v) for v in summ["vlans"]] or ["none seen"], cols)))
    tabs = [f"{t['table']} {t['rows']} ({t['method']})" for t in summ["tables"] if t["state"] == "complete"]
    w("".join(f"{ln}\n" for ln in wrap_items("  tables read whole:", tabs or ["none"], cols)))
    for t in summ["tables"]:
        if t["state"] != "complete":
            why = f": {'; '.join(t['problems'])}" if t.get("problems") else ""
            say(f"  {t['table']}: {t['state']} over {t['method']}{why}")

    roles = {}
    for u in summ["uplinks"]:
        roles[u["port"]] = "uplink"
    for a in summ["access_ports"]:
        roles[a["port"]] = f"access ({a['macs']})"

    def table(title: str, columns: list[Column], data: list[dict[str, str]]) -> None:
        lines, dropped = render(columns, data, None if cols is None else cols - 2)
        w(f"\n{title}" + (f"  [not shown: {', '.join(dropped)}; --wide]" if dropped and data else "") + "\n")
        w("".join(f"  {ln}\n" for ln in lines))

    table(f"Interfaces ({len(snap.interfaces)}, via {methods.get('interfaces', snap.method)})",
          [Column("ifindex", "ifIndex", keep=0, right=True), Column("name", "name", keep=0),
           Column("role", "role", keep=8), Column("oper", "oper", keep=7), Column("type", "type", keep=6),
           Column("speed", "speed", keep=5, right=True), Column("alias", "alias", keep=4, cut=True, min_width=12),
           Column("mac", "MAC", keep=2), Column("lag", "LAG", keep=3)],
          [{"ifindex": str(i.ifindex), "name": i.name, "alias": i.alias, "type": if_type(i.if_type),
            "speed": speed(i.speed), "oper": {True: "up", False: "down", None: "?"}[i.oper_up],
            "mac": i.phys_address or "", "lag": port(i.lag_ifindex) if i.lag_ifindex else "",
            "role": roles.get(i.name, "")} for i in snap.interfaces])
    table(f"Forwarding table ({len(snap.fdb)}, via {methods.get('fdb', snap.method)})",
          [Column("mac", "MAC", keep=0), Column("vlan", "VLAN", keep=0, right=True), Column("port", "port", keep=0),
           Column("status", "status", keep=3)],
          [{"mac": f.mac, "vlan": str(f.vlan) if f.vlan is not None else "-", "port": port(f.ifindex),
            "status": f.status} for f in snap.fdb])
    table(f"ARP / IPv6 neighbours ({len(snap.arp)}, via {methods.get('arp', snap.method)})",
          [Column("ip", "IP", keep=0), Column("mac", "MAC", keep=0), Column("port", "interface", keep=3)],
          [{"ip": a.ip, "mac": a.mac, "port": port(a.ifindex)} for a in snap.arp])
    lldp_via = methods.get("lldp", snap.method)
    cdp_via = methods.get("cdp", snap.method)
    table(f"LLDP / CDP neighbours ({len(snap.lldp)}, via {lldp_via}"
          + (f", CDP via {cdp_via}" if cdp_via != lldp_via else "") + ")",
          [Column("local", "local port", keep=0), Column("proto", "proto", keep=3),
           Column("system", "system", keep=6, cut=True, min_width=12), Column("port", "port", keep=5, cut=True),
           Column("chassis", "chassis", keep=2), Column("caps", "capabilities", keep=4, cut=True),
           Column("addr", "address", keep=1)],
          [{"local": port(n.ifindex), "proto": n.protocol,
            "system": n.sys_name + (f" (LLDP-MED: {med})" if (med := " ".join(
                x for x in (n.med_manufacturer, n.med_model) if x)) else ""),
            "port": n.port_id or n.port_descr, "chassis": n.chassis_id, "caps": ",".join(n.capabilities),
            "addr": n.mgmt_ip or ""} for n in snap.lldp])
    if snap.notes:
        w("\n")
    for note in snap.notes:
        say(f"note: {note}")
