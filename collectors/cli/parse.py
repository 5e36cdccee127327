"""Saved or live command output -> facts. Pure functions: no I/O, no device needed.

Text output is parsed with ntc-templates (TextFSM), and where no template matches (a
platform or software release it does not know) by the tolerant parser of
:mod:`collectors.cli.tolerant`, with a note saying so; JSON output (Linux ``-j``, Arista
``| json`` / eAPI) and XML output (Junos ``| display xml`` / RPC replies) with the
platform's own structure. The records are then mapped to the same facts SNMP
produces, with every interface name keyed through one :class:`Ports`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from collectors.cli import tolerant
from collectors.cli.names import Ports
from collectors.cli.platforms import CLI, CLI_PLATFORMS, NETCONF_PLATFORMS, PLATFORMS
from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor, SwitchInfo
from collectors.provenance import TOLERANT_NOTE, tolerant_note
from collectors.tables import (
    Tables,
    capabilities,
    fdb_status,
    is_up,
    norm_ip,
    norm_mac,
    speed_mbps,
    to_int,
    vlan_id,
)

__all__ = ["CLI_PLATFORMS", "NETCONF_PLATFORMS", "PLATFORMS", "ParseError", "command_table", "parse"]


class ParseError(ValueError):
    """The output cannot be mapped (unknown platform or command, or malformed output)."""


Record = Mapping[str, Any]
MAX_NAME, MAX_TEXT = 255, 2048  # as collectors.snmp.decode bounds sysName and sysDescr


# --------------------------------------------------------------- command -> table
def command_table(command: str) -> str:
    """Which logical table a command fills, from its words ("show mac address-table" -> "fdb")."""
    c = " ".join(command.lower().replace("_", " ").split())
    c = c.split("|")[0].strip() if "display" not in c.split("|")[-1] else c
    words = c.replace("-", " ")
    if "chassis" in words.split() and "neighbor" not in words:
        return "system"  # the switch's own LLDP chassis (lldpcli show chassis)
    if "lldp" in words:
        return "lldp"
    if "cdp" in words:
        return "cdp"
    if ("mac" in words and "address" in words) or "fdb" in words or "ethernet switching table" in words \
            or "ethernet-switching-table" in c or "bridge mac table" in words or "mac table" in words \
            or "mac learning" in words or "bridge address table" in words:
        return "fdb"
    if "arp" in words or "neigh" in words:
        return "arp"
    if "interface" in words or "link" in words:
        return "interfaces"
    if "version" in words or "system" in words:
        return "system"
    raise ParseError(f'cannot tell which table "{command}" fills: expected a MAC table, ARP, LLDP, CDP '
                     "or interface command")


# --------------------------------------------------------------- entry point
def parse(platform: str, command: str, text: str, *, switch: str = "switch", ports: Ports | None = None,
          tables: Tables | None = None) -> Tables:
    """Map one command's output to facts; fills ``tables`` (a new one when None)."""
    if platform not in PLATFORMS:
        raise ParseError(f'unsupported platform "{platform}" (supported: {", ".join(PLATFORMS)})')
    t = tables or Tables(switch=switch, ports=ports or Ports(platform))
    kind = command_table(command)
    if kind == "lldp":
        # Brief and detailed LLDP outputs are kept apart and merged: old IOS detail output
        # lacks the local port, which only the brief table gives.
        detail = t.lldp_detail
        t.lldp = None
        try:
            _parse_one(platform, command, kind, text, t)
            rows: list[LldpNeighbor] = t.lldp or []
        finally:
            t.lldp = detail
        if is_detail(command):
            t.lldp_detail = (t.lldp_detail or []) + rows
        else:
            t.lldp_brief = (t.lldp_brief or []) + rows
        t.lldp = merge_lldp(t.lldp_detail, t.lldp_brief)
        return t
    _parse_one(platform, command, kind, text, t)
    return t


def is_detail(command: str) -> bool:
    c = command.lower()
    return any(w in c for w in ("detail", "verbose", "interface-neighbors", "remote-device "))


def _same_name(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a == b or (bool(a) and bool(b) and (a.startswith(b) or b.startswith(a)))


def merge_lldp(detail: list[LldpNeighbor] | None, brief: list[LldpNeighbor] | None) -> list[LldpNeighbor] | None:
    """Detailed neighbours, with a local port from the brief table where the detail lacks it,
    plus brief neighbours the detail does not describe."""
    if detail is None:
        return list(brief) if brief is not None else None
    out: list[LldpNeighbor] = []
    used: set[int] = set()
    for d in detail:
        for i, b in enumerate(brief or []):
            # With no system name, IOS shows the chassis ID as the brief table's Device ID.
            chassis, brief_name = norm_mac(d.chassis_id) or d.chassis_id, norm_mac(b.sys_name) or b.sys_name
            chassis, brief_name = norm_mac(d.chassis_id) or d.chassis_id, norm_mac(b.sys_name) or b.sys_name
            named = _same_name(d.sys_name, b.sys_name) or (
                not d.sys_name and (_same_name(chassis, brief_name) or (bool(b.port_id) and b.port_id == d.port_id)))
            if i in used or not named:
                continue
            if b.port_id and b.port_id not in (d.port_id, d.port_descr):
                continue
            if d.ifindex is not None and b.ifindex is not None and d.ifindex != b.ifindex:
                continue
            used.add(i)
            if d.ifindex is None and b.ifindex is not None:
                d = msgspec.structs.replace(d, ifindex=b.ifindex)
            if not d.sys_name and b.sys_name and norm_mac(b.sys_name) is None:
                d = msgspec.structs.replace(d, sys_name=b.sys_name)  # the brief table's Device ID
            break
        out.append(d)
    out.extend(b for i, b in enumerate(brief or []) if i not in used)
    return out


def _parse_one(platform: str, command: str, kind: str, text: str, t: Tables) -> None:
    body = text.lstrip("\ufeff").strip()
    if platform == "sros" and kind == "fdb" and not body.startswith("<"):
        from collectors.netconf import sros_fdb_text

        sros_fdb_text(text, t)
        return
    if platform in NETCONF_PLATFORMS and not body.startswith("<"):
        raise ParseError(f"{platform}: expected an XML reply (<rpc-reply> or <data>)")
    if body.startswith("<"):
        from collectors.netconf import ReplyError, parse_reply, text_output

        wrapped = text_output(body)
        if wrapped is not None:  # Junos: a CLI command's text inside <output>
            _parse_one(platform, command, kind, wrapped, t)
            return

        try:
            parse_reply(body, t)
        except ReplyError as e:
            raise ParseError(str(e)) from None
        return
    if body.startswith(("{", "[")):
        try:
            data = json.loads(body)
        except ValueError as e:
            raise ParseError(f"output looks like JSON but is not: {e}") from None
        except RecursionError:
            # Hostile or broken output (thousands of nested brackets): no switch prints that.
            raise ParseError("output looks like JSON but is nested too deeply to be a command's output") from None
        _parse_json(platform, kind, data, t)
        return
    if platform == "linux":
        raise ParseError("Linux switches are read with JSON commands (bridge -j, ip -j, lldpcli -f json0)")
    _parse_text(platform, command, kind, text, t)


def _parse_text(platform: str, command: str, kind: str, text: str, t: Tables) -> None:
    """ntc-templates first; the tolerant parser where it has no template or matches nothing."""
    records: list[dict[str, Any]] = []
    error: ParseError | None = None
    try:
        records = textfsm_records(platform, command, text)
    except ParseError as e:
        error = e
    reader = _TOLERANT.get(kind)
    if reader is None:
        if error is not None:
            raise error
        MAPPERS[kind](records, t)
        return
    if records and kind in ("lldp", "cdp") and is_detail(command):
        # A detail template that loses its place (an entry without capabilities, a chassis ID that is
        # no MAC) merges or drops neighbours: where the tolerant parser finds more, its reading is kept.
        found = reader(strip_prompts(text))[0]
        if len(found) > len(records):
            MAPPERS[kind](found, t)
            t.notes.append(tolerant_note(kind, command, f"{len(found)} neighbour(s), where ntc-templates found "
                                         f"{len(records)} (lower confidence: fields recognised by their labels)"))
            return
    if records:
        extra = _missed(kind, records, text, reader)
        MAPPERS[kind](records + extra, t)
        if extra:
            t.notes.append(tolerant_note(kind, command, f"{len(extra)} row(s) ntc-templates skipped "
                                         "(lower confidence: columns recognised by header and value form)"))
        return
    found, understood = reader(strip_prompts(text))
    if error is not None and not found and not understood:
        raise ParseError(f"{error}; the {TOLERANT_NOTE} found no {kind} rows or header either") from None
    before = len(getattr(t, kind) or [])
    MAPPERS[kind](found, t)
    mapped = len(getattr(t, kind) or []) - before
    if mapped:
        why = "has no template for this command" if error is not None and "no template found" in str(error).lower() \
            else "could not parse this output" if error is not None else "matched nothing in this output"
        t.notes.append(tolerant_note(kind, command, f"{mapped} row(s) (ntc-templates {why}; lower confidence: "
                                     "columns recognised by header and value form)"))


def _missed(kind: str, records: list[dict[str, Any]], text: str,
            reader: Callable[[str], tuple[list[dict[str, Any]], bool]]) -> list[dict[str, Any]]:
    """Tolerant rows for MAC addresses the template's records do not have at all (rows it skipped)."""
    if kind not in ("fdb", "arp"):
        return []
    macs: set[str] = set()
    for r in records:
        for v in r.values():
            for x in v if isinstance(v, list) else [v]:
                m = norm_mac(x) if isinstance(x, str) else None
                if m is not None:
                    macs.add(m)
    # The whole tolerant pass only when the output holds a station address the records lack.
    if all(m in macs or int(m[:2], 16) & 1 for m in tolerant.macs_in(text)):
        return []
    out = []
    for r in reader(strip_prompts(text))[0]:
        m = norm_mac(r.get("mac"))
        if m is not None and m not in macs and not int(m[:2], 16) & 1:  # group addresses are never stations
            out.append(r)
    return out


_TOLERANT: dict[str, Callable[[str], tuple[list[dict[str, Any]], bool]]] = {
    "fdb": tolerant.fdb_records, "arp": tolerant.arp_records,
    "lldp": tolerant.neighbor_records, "cdp": tolerant.neighbor_records,
}


# A prompt with the command, as saved by hand from a terminal (netmiko strips these live).
_PROMPT_LINE = re.compile(r"^[\w.\-@/:()]+[#>]\s*(\S.*)?$")


def strip_prompts(text: str) -> str:
    lines = text.splitlines()
    while lines and (not lines[0].strip() or _PROMPT_LINE.match(lines[0].strip())):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _PROMPT_LINE.match(lines[-1].strip())):
        lines.pop()
    return "\n".join(lines) + "\n"


_MODULE_LINE = re.compile(r"^\s*EHWIC:\s*\d+\s*$", re.MULTILINE)


def textfsm_records(platform: str, command: str, text: str) -> list[dict[str, Any]]:
    """ntc-templates' TextFSM records (keys lower-case) for one command's output."""
    from ntc_templates.parse import parse_output

    entry = CLI.get(platform)
    names = entry.textfsm if entry is not None and entry.textfsm else (platform,)
    text = strip_prompts(text)
    failure: Exception | None = None
    for tp in names:  # a platform's templates may live under another name (Ruckus ICX: brocade_fastiron)
        try:
            try:
                records: list[dict[str, Any]] = parse_output(platform=tp, command=command, data=text)
            except Exception:
                # ISRs print one MAC table per EHWIC module, each under an "EHWIC: n" line.
                stripped = _MODULE_LINE.sub("", text)
                if stripped == text:
                    raise
                records = parse_output(platform=tp, command=command, data=stripped)
        except Exception as e:  # ntc-templates raises its own and textfsm's errors
            failure = failure or e
            continue
        return [{k.lower(): v for k, v in r.items()} for r in records]
    detail = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
    raise ParseError(f"ntc-templates has no template for {platform} \"{command}\" or could not "
                     f"parse the output: {detail}")


# --------------------------------------------------------------- TextFSM record mapping
def _first(rec: Record, *keys: str) -> str:
    for k in keys:
        v = rec.get(k)
        if isinstance(v, list):
            v = next((x for x in v if isinstance(x, str) and x.strip()), "")
        if isinstance(v, str) and v.strip():
            return v.strip()
    return ""


def _all(rec: Record, key: str) -> list[str]:
    v = rec.get(key)
    if isinstance(v, list):
        return [x.strip() for x in v if isinstance(x, str) and x.strip()]
    if isinstance(v, str) and v.strip():
        return [v.strip()]
    return []


# Ports of a MAC table that are the switch itself, not a front-panel port.
_SELF_PORTS = re.compile(r"^(cpu|router|switch|sup-eth\d*(\(r\))?|drop|self|system|vlan\d*|vl\d+|igmp|.*\(r\))$",
                         re.IGNORECASE)


def map_fdb(records: Iterable[Record], t: Tables) -> None:
    out: list[FdbEntry] = []
    for r in records:
        mac = norm_mac(_first(r, "destination_address", "mac_address", "mac"))
        if mac is None or int(mac[:2], 16) & 1:
            continue  # multicast/flood entries are not stations
        port_list = []
        for k in ("destination_port", "ports", "port", "interface", "logical_interface", "next_hop"):
            port_list = _all(r, k)
            if port_list:
                break
        ports = [p for q in port_list for p in q.replace("vPC Peer-Link", "vPC-Peer-Link").replace(",", " ").split()]
        if ports == ["vPC"]:  # ntc-templates keeps the first word of NX-OS's "vPC Peer-Link"
            ports = ["vPC-Peer-Link"]
        status = fdb_status(_first(r, "type", "state", "mac_flag"))
        if len(ports) > 1:
            continue  # a multicast/flood entry spread over ports
        port = ports[0].strip() if ports else ""
        if _SELF_PORTS.match(port):
            out.append(FdbEntry(switch=t.switch, ifindex=None, vlan=vlan_id(_first(r, "vlan_id", "vlan")),
                                mac=mac, status="self"))
            continue
        out.append(FdbEntry(switch=t.switch, ifindex=t.ports.key(port) if port else None,
                            vlan=vlan_id(_first(r, "vlan_id", "vlan")), mac=mac, status=status))
    t.add("fdb", list(out))


def map_arp(records: Iterable[Record], t: Tables) -> None:
    out: list[ArpEntry] = []
    for r in records:
        ip = norm_ip(_first(r, "ip_address", "address", "ip", "destination"))  # EXOS show iparp: destination
        mac = norm_mac(_first(r, "mac_address", "hardware_address", "mac"))
        if ip is None or mac is None:
            continue  # incomplete
        port = _first(r, "interface", "physical_port", "port", "physical_interface")
        out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(port) if port else None, ip=ip, mac=mac))
    t.add("arp", list(out))


_NOT_ADVERTISED = frozenset({"not advertised", "not advertized", "n/a", "-", "none"})


def _neighbors(records: Iterable[Record], t: Tables, protocol: str) -> list[LldpNeighbor]:
    out: list[LldpNeighbor] = []
    for r in records:
        local = _first(r, "local_interface", "local_port")
        port_id = _first(r, "neighbor_port_id", "neighbor_interface")
        descr = _first(r, "neighbor_interface_description")
        if not descr and _first(r, "neighbor_port_id"):
            descr = _first(r, "neighbor_interface")
        mgmt = next((ip for a in _all(r, "mgmt_address") + _all(r, "interface_ip")
                     if (ip := norm_ip(a)) is not None), None)
        caps = r.get("capabilities") or r.get("capabilities_enabled") or r.get("capabilities_supported")
        chassis = _first(r, "chassis_id")
        chassis = norm_mac(chassis) or chassis
        name = _first(r, "neighbor_name", "neighbor", "system_name")
        name = "" if name.lower() in _NOT_ADVERTISED else name
        if not (name or chassis or port_id):
            continue
        out.append(LldpNeighbor(
            switch=t.switch, ifindex=t.ports.key(local) if local else None, protocol=protocol,
            chassis_id=chassis, port_id=port_id, port_descr=descr, sys_name=name,
            sys_desc=_first(r, "neighbor_description", "system_description"),
            capabilities=capabilities(caps), mgmt_ip=mgmt, platform=_first(r, "platform")))
    return out


def map_lldp(records: Iterable[Record], t: Tables) -> None:
    t.add("lldp", list(_neighbors(records, t, "lldp")))


def map_cdp(records: Iterable[Record], t: Tables) -> None:
    t.add("cdp", list(_neighbors(records, t, "cdp")))


def _vlan_mode(r: Record) -> str | None:
    mode = _first(r, "vlan_mode", "mode").lower()
    if "trunk" in mode or "tagged" in mode:
        return "trunk"
    if "access" in mode:
        return "access"
    v = _first(r, "vlan_id", "vlan").lower()
    if v == "trunk" or _first(r, "vlan_tagged"):
        return "trunk"
    if v.isdigit() or _first(r, "vlan_untagged"):
        return "access"
    return None


def map_interfaces(records: Iterable[Record], t: Tables) -> None:
    out: list[Interface] = []
    seen: set[int] = set()
    for r in records:
        name = _first(r, "interface", "port")
        if not name:
            continue
        key = t.ports.key(name)
        if key is None or key in seen:
            continue
        seen.add(key)
        # "name" is the description in "show interfaces status"; the port is in "port".
        descr = _first(r, "description", "interface_desc") or (_first(r, "name") if "port" in r else "")
        bandwidth = _first(r, "bandwidth")
        speed = None
        m = re.match(r"(\d+)\s*kbit", bandwidth, re.IGNORECASE)
        if m:
            speed = int(m.group(1)) // 1000 or None
        if speed is None:
            speed = speed_mbps(_first(r, "speed"))
        oper = is_up(_first(r, "link_status", "status", "link", "protocol_status"))
        if _first(r, "protocol_status", "proto"):
            oper = bool(oper) and bool(is_up(_first(r, "protocol_status", "proto")))
        out.append(Interface(
            switch=t.switch, ifindex=key, name=t.ports.names.get(key, name), descr=name, alias=descr,
            speed=speed, oper_up=oper, phys_address=norm_mac(_first(r, "mac_address", "address")),
            vlan_mode=_vlan_mode(r)))
    t.add("interfaces", list(out))


MAPPERS: dict[str, Callable[[Iterable[Record], Tables], None]] = {
    "fdb": map_fdb, "arp": map_arp, "lldp": map_lldp, "cdp": map_cdp, "interfaces": map_interfaces,
    "system": lambda records, t: None,
}


# --------------------------------------------------------------- JSON platforms
def _parse_json(platform: str, kind: str, data: Any, t: Tables) -> None:
    table = {"linux": LINUX, "arista_eos": EOS}.get(platform)
    if table is None:
        raise ParseError(f"JSON output is read for linux and arista_eos; for {platform} save the text output")
    if kind not in table:
        raise ParseError(f"no JSON reader for {platform} {kind} output")
    table[kind](data, t)


def _linux_list(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise ParseError("expected a JSON array (the output of a -j command)")
    return [d for d in data if isinstance(d, dict)]


def linux_links(data: Any, t: Tables) -> None:
    """``ip -j -d link show``: real ifindex, so keys equal SNMP's ifIndex."""
    out: list[Interface] = []
    for d in _linux_list(data):
        idx, name = to_int(d.get("ifindex")), str(d.get("ifname") or "")
        if idx is None or not name:
            continue
        t.ports.learn(name, idx)
        kind = (d.get("linkinfo") or {}).get("info_kind") if isinstance(d.get("linkinfo"), dict) else None
        if_type = 24 if d.get("link_type") == "loopback" else 6 if d.get("link_type") == "ether" else None
        master = d.get("master")
        flags = d.get("flags") or []
        oper = str(d.get("operstate", "")).upper()
        out.append(Interface(
            switch=t.switch, ifindex=idx, name=name, descr=name, alias=str(d.get("ifalias") or ""),
            if_type=if_type, oper_up=oper == "UP" or (oper == "UNKNOWN" and "LOWER_UP" in flags),
            phys_address=norm_mac(d.get("address")),
            vlan_mode="access" if master and kind != "bridge" else None))
    t.add("interfaces", list(out))
    t.notes.append("linux: bridges, ports and ifIndex from ip -j -d link")


def linux_fdb(data: Any, t: Tables) -> None:
    """``bridge -j fdb show``: the bridges' own tables (entries with a master, or on the bridge itself)."""
    rows = _linux_list(data)
    bridges = {str(d.get("master")) for d in rows if d.get("master")}
    best: dict[tuple[str, int | None], FdbEntry] = {}
    for d in rows:
        mac = norm_mac(d.get("mac"))
        if mac is None or int(mac[:2], 16) & 1:
            continue
        dev = str(d.get("ifname") or d.get("dev") or "")
        vlan = vlan_id(d.get("vlan"))
        if dev in bridges or (not d.get("master") and dev.startswith(("br", "bridge"))):
            entry = FdbEntry(switch=t.switch, ifindex=None, vlan=vlan, mac=mac, status="self")
        elif d.get("master"):
            state = str(d.get("state") or "")
            status = "self" if state == "permanent" else "mgmt" if state == "static" else "learned"
            entry = FdbEntry(switch=t.switch, ifindex=t.ports.key(dev), vlan=vlan, mac=mac, status=status)
        else:
            continue  # a port's own (device-level) filter entry
        prev = best.get((mac, vlan))
        if prev is None or (prev.ifindex is None and entry.ifindex is not None):
            best[(mac, vlan)] = entry
    t.add("fdb", list(best.values()))


def linux_neigh(data: Any, t: Tables) -> None:
    """``ip -j neigh show``: the ARP and IPv6 neighbour caches."""
    out: list[ArpEntry] = []
    for d in _linux_list(data):
        ip, mac = norm_ip(d.get("dst")), norm_mac(d.get("lladdr"))
        state = d.get("state") or []
        if ip is None or mac is None or "FAILED" in state or "INCOMPLETE" in state:
            continue
        dev = str(d.get("dev") or "")
        out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(dev) if dev else None, ip=ip, mac=mac))
    t.add("arp", list(out))


def _values(node: Any, key: str) -> list[Any]:
    """lldpcli json0: every value is a list of objects, usually with a "value" key."""
    v = node.get(key) if isinstance(node, dict) else None
    return v if isinstance(v, list) else []


def _value(node: Any, key: str) -> str:
    for item in _values(node, key):
        if isinstance(item, dict) and item.get("value") is not None:
            return str(item["value"])
    return ""


def _lldpd_chassis_id(chassis: Any) -> str:
    """A json0 chassis' id: a MAC subtype in the one MAC form, anything else as sent."""
    cid = next((i for i in _values(chassis, "id") if isinstance(i, dict)), {})
    chassis_id = str(cid.get("value") or "")
    if cid.get("type") == "mac":
        chassis_id = norm_mac(chassis_id) or chassis_id
    return chassis_id


def linux_chassis(data: Any, t: Tables) -> None:
    """``lldpcli -f json0 show chassis``: the switch's own LLDP chassis id, system name and description."""
    if not isinstance(data, dict) or not isinstance(data.get("local-chassis"), list):
        raise ParseError("expected lldpcli's json0 object with local-chassis")
    for local in _values(data, "local-chassis"):
        for chassis in _values(local, "chassis"):
            t.system = SwitchInfo(switch=t.switch, sys_name=_value(chassis, "name")[:MAX_NAME],
                                  sys_descr=_value(chassis, "descr")[:MAX_TEXT],
                                  lldp_chassis_id=_lldpd_chassis_id(chassis)[:MAX_NAME] or None)
            return
    raise ParseError("lldpcli show chassis named no local chassis (is lldpd running?)")


def linux_lldp(data: Any, t: Tables) -> None:
    """``lldpcli -f json0 show neighbors details``."""
    if not isinstance(data, dict):
        raise ParseError("expected lldpcli's json0 object")
    out: list[LldpNeighbor] = []
    for lldp in data.get("lldp") or []:
        for itf in _values(lldp, "interface"):
            local = str(itf.get("name") or "")
            chassis = (_values(itf, "chassis") or [{}])[0]
            port = (_values(itf, "port") or [{}])[0]
            chassis_id = _lldpd_chassis_id(chassis)
            pid = next((i for i in _values(port, "id") if isinstance(i, dict)), {})
            caps = tuple(c for c in capabilities([str(c.get("type", "")) for c in _values(chassis, "capability")
                                                  if isinstance(c, dict) and c.get("enabled")]))
            mgmt = next((ip for m in _values(chassis, "mgmt-ip") if (ip := norm_ip(m.get("value"))) is not None),
                        None)
            out.append(LldpNeighbor(
                switch=t.switch, ifindex=t.ports.key(local) if local else None, protocol="lldp",
                chassis_id=chassis_id or "", port_id=str(pid.get("value") or ""),
                port_descr=_value(port, "descr"), sys_name=_value(chassis, "name"),
                sys_desc=_value(chassis, "descr"), capabilities=caps, mgmt_ip=mgmt, **linux_lldp_med(itf)))
    t.add("lldp", list(out))


# lldpcli's LLDP-MED "device-type" text -> LldpNeighbor.med_class.
_MED_CLASS = (("class iii", "endpoint-3"), ("class ii", "endpoint-2"), ("class i", "endpoint-1"),
              ("network connectivity", "network"))
# lldpcli's LLDP-MED "inventory" keys -> LldpNeighbor fields.
_MED_INVENTORY = {"hardware": "med_hardware", "software": "med_software", "firmware": "med_firmware",
                  "serial": "med_serial", "manufacturer": "med_manufacturer", "model": "med_model",
                  "asset": "med_asset"}
_MED_TEXT_MAX = 255


def linux_lldp_med(itf: Any) -> dict[str, str]:
    """The LLDP-MED device class and inventory of one lldpcli json0 neighbour ("lldp-med" under the
    interface), as LldpNeighbor ``med_*`` keyword arguments; empty when it sent none."""
    out: dict[str, str] = {}
    med = next((m for m in _values(itf, "lldp-med") if isinstance(m, dict)), None)
    if med is None:
        return out
    kind = _value(med, "device-type").casefold()
    cls = next((c for text, c in _MED_CLASS if text in kind), None)
    if cls is not None:
        out["med_class"] = cls
    inv = next((i for i in _values(med, "inventory") if isinstance(i, dict)), {})
    for key, field in _MED_INVENTORY.items():
        value = " ".join("".join(c if c.isprintable() else " " for c in _value(inv, key)).split())[:_MED_TEXT_MAX]
        if value:
            out[field] = value
    return out


LINUX: dict[str, Callable[[Any, Tables], None]] = {
    "interfaces": linux_links, "fdb": linux_fdb, "arp": linux_neigh, "lldp": linux_lldp, "system": linux_chassis,
}


def eos_fdb(data: Any, t: Tables) -> None:
    out: list[FdbEntry] = []
    for e in (data.get("unicastTable") or {}).get("tableEntries") or []:
        mac = norm_mac(e.get("macAddress"))
        if mac is None:
            continue
        port = str(e.get("interface") or "")
        selfish = _SELF_PORTS.match(port) is not None
        out.append(FdbEntry(switch=t.switch, ifindex=None if selfish else t.ports.key(port),
                            vlan=vlan_id(e.get("vlanId")), mac=mac,
                            status="self" if selfish else fdb_status(e.get("entryType"))))
    t.add("fdb", list(out))


def eos_arp(data: Any, t: Tables) -> None:
    out: list[ArpEntry] = []
    vrfs = data.get("vrfs") if isinstance(data.get("vrfs"), dict) else {"default": data}
    for vrf in vrfs.values():
        for e in vrf.get("ipV4Neighbors") or []:
            ip, mac = norm_ip(e.get("address")), norm_mac(e.get("hwAddress"))
            if ip is None or mac is None:
                continue
            # "Vlan100, Ethernet1": the routed interface, then the port the MAC is behind.
            itf = str(e.get("interface") or "").split(",")[0].strip()
            out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(itf) if itf else None, ip=ip, mac=mac))
    t.add("arp", list(out))


def eos_lldp(data: Any, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    neigh = data.get("lldpNeighbors")
    if isinstance(neigh, list):  # "show lldp neighbors": brief
        for e in neigh:
            out.append(LldpNeighbor(switch=t.switch, ifindex=t.ports.key(str(e.get("port") or "")),
                                    sys_name=str(e.get("neighborDevice") or ""),
                                    port_id=str(e.get("neighborPort") or "")))
    elif isinstance(neigh, dict):  # "show lldp neighbors detail"
        for local, info in neigh.items():
            for e in info.get("lldpNeighborInfo") or []:
                itf = e.get("neighborInterfaceInfo") or {}
                caps = e.get("systemCapabilities") or {}
                enabled = [k for k, v in caps.items() if v] if isinstance(caps, dict) else []
                mgmt = next((ip for a in e.get("managementAddresses") or []
                             if (ip := norm_ip(a.get("address"))) is not None), None)
                chassis = str(e.get("chassisId") or "")
                out.append(LldpNeighbor(
                    switch=t.switch, ifindex=t.ports.key(local), chassis_id=norm_mac(chassis) or chassis,
                    port_id=str(itf.get("interfaceId_v2") or itf.get("interfaceId") or "").strip('"'),
                    port_descr=str(itf.get("interfaceDescription") or ""),
                    sys_name=str(e.get("systemName") or ""), sys_desc=str(e.get("systemDescription") or ""),
                    capabilities=capabilities(enabled), mgmt_ip=mgmt))
    t.add("lldp", list(out))


def eos_interfaces(data: Any, t: Tables) -> None:
    out: list[Interface] = []
    for name, e in (data.get("interfaces") or {}).items():
        key = t.ports.key(name)
        if key is None:
            continue
        bw = e.get("bandwidth")
        out.append(Interface(
            switch=t.switch, ifindex=key, name=t.ports.names.get(key, name), descr=name,
            alias=str(e.get("description") or ""), speed=int(bw) // 1_000_000 if isinstance(bw, int) and bw else None,
            oper_up=str(e.get("lineProtocolStatus", "")) == "up",
            phys_address=norm_mac(e.get("physicalAddress") or e.get("burnedInAddress"))))
    t.add("interfaces", list(out))


EOS: dict[str, Callable[[Any, Tables], None]] = {
    "interfaces": eos_interfaces, "fdb": eos_fdb, "arp": eos_arp, "lldp": eos_lldp,
}
