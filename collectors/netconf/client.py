"""NETCONF collector: ncclient over SSH in a worker thread, and pure reply -> facts parsers.

What is asked depends on the capabilities in the server's hello:

- OpenConfig (``openconfig-interfaces``, ``openconfig-if-ip``, ``openconfig-network-instance``,
  ``openconfig-lldp``): interfaces with if-index, IPv4 neighbours, the FDB mac-table, LLDP;
- IETF (``ietf-interfaces``, ``ietf-ip``): interfaces (operational state) and IPv4 neighbours;
- Junos (``http://xml.juniper.net/``): the RPCs get-interface-information (terse),
  get-ethernet-switching-table-information, get-arp-table-information (no-resolve),
  get-lldp-neighbors-information;
- Cisco IOS-XR (``Cisco-IOS-XR-*-oper``) and Nokia SR OS (``urn:nokia.com:sros``) operational trees.

Every <get> carries a subtree filter so the switch returns only what is asked. Parsing
(``parse_reply``) is pure and shared with ``sensor parse`` and the CLI collector (Junos
``| display xml``). XML is parsed with the standard library's expat, which refuses
entity expansion bombs; the reply size is bounded before parsing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from collectors.cli.names import Ports
from collectors.errors import SourceError
from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor, SwitchInfo
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

log = logging.getLogger("collectors.netconf")

MAX_REPLY = 64 * 1024 * 1024

NS_OC_IF = "http://openconfig.net/yang/interfaces"
NS_OC_IP = "http://openconfig.net/yang/interfaces/ip"
NS_OC_NI = "http://openconfig.net/yang/network-instance"
NS_OC_LLDP = "http://openconfig.net/yang/lldp"
NS_OC_SYS = "http://openconfig.net/yang/system"
NS_IETF_IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
NS_IETF_IP = "urn:ietf:params:xml:ns:yang:ietf-ip"
NS_JUNOS = "http://xml.juniper.net/"
NS_XR_ARP = "http://cisco.com/ns/yang/Cisco-IOS-XR-ipv4-arp-oper"
NS_XR_LLDP = "http://cisco.com/ns/yang/Cisco-IOS-XR-ethernet-lldp-oper"
NS_XR_IF = "http://cisco.com/ns/yang/Cisco-IOS-XR-pfi-im-cmd-oper"
NS_XR_L2VPN = "http://cisco.com/ns/yang/Cisco-IOS-XR-l2vpn-oper"
NS_SROS_STATE = "urn:nokia.com:sros:ns:yang:sr:state"


class ReplyError(ValueError):
    """A reply that is not XML or has no shape this module knows."""


# --------------------------------------------------------------- XML helpers
def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _ns(el: ET.Element) -> str:
    return el.tag[1:].split("}", 1)[0] if el.tag.startswith("{") else ""


def _iter(el: ET.Element, name: str) -> Iterator[ET.Element]:
    for e in el.iter():
        if _local(e.tag) == name:
            yield e


def _child(el: ET.Element | None, *path: str) -> ET.Element | None:
    cur = el
    for name in path:
        if cur is None:
            return None
        cur = next((c for c in cur if _local(c.tag) == name), None)
    return cur


def _children(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if el is None else [c for c in el if _local(c.tag) == name]


def _text(el: ET.Element | None, *path: str) -> str:
    e = _child(el, *path) if path else el
    return (e.text or "").strip() if e is not None else ""


def parse_xml(text: str | bytes) -> ET.Element:
    if len(text) > MAX_REPLY:
        raise ReplyError(f"reply larger than {MAX_REPLY} bytes")
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise ReplyError(f"not well-formed XML: {e}") from None


def text_output(text: str) -> str | None:
    """The text of a Junos <output> reply (a CLI command without an XML form), else None."""
    try:
        root = parse_xml(text)
    except ReplyError:
        return None
    out = root if _local(root.tag) == "output" else _child(root, "output")
    if out is None or (len(root) > 1 and _local(root.tag) != "output"):
        return None
    return out.text or ""


# --------------------------------------------------------------- dispatch
def parse_reply(text: str | bytes, tables: Tables) -> Tables:
    """Map one reply (an <rpc-reply>, a <data> tree, or a bare Junos RPC result) into ``tables``."""
    root = parse_xml(text)
    found = False
    for name, detect, parser in SHAPES:
        if detect(root):
            parser(root, tables)
            found = True
            log.debug("netconf reply shape: %s", name)
    if not found:
        raise ReplyError(f"no known NETCONF/XML shape in a <{_local(root.tag)}> reply "
                         "(known: OpenConfig, IETF, Junos RPCs, IOS-XR oper, SR OS state)")
    return tables


def _has(*names: str, ns: str | None = None) -> Callable[[ET.Element], bool]:
    def detect(root: ET.Element) -> bool:
        return any(_local(e.tag) in names and (ns is None or _ns(e).startswith(ns)) for e in root.iter())
    return detect


# --------------------------------------------------------------- Junos
def junos_fdb(root: ET.Element, t: Tables) -> None:
    out: list[FdbEntry] = []
    # Legacy EX: ethernet-switching-table/mac-table-entry
    for e in _iter(root, "mac-table-entry"):
        mac = norm_mac(_text(e, "mac-address"))
        if mac is None or int(mac[:2], 16) & 1:
            continue
        ports = [_text(i) for i in _children(_child(e, "mac-interfaces-list"), "mac-interfaces")] \
            or [_text(e, "mac-interface")]
        if len(ports) != 1:
            continue
        vlan = vlan_id(_text(e, "mac-vlan-tag")) or vlan_id(_text(e, "mac-vlan"))
        out.append(_fdb(t, mac, ports[0], vlan, _text(e, "mac-type")))
    # ELS (l2ng) and MX bridge domains
    for tag, prefix in (("l2ng-l2ald-mac-entry-vlan", "l2ng-l2-"), ("l2ald-mac-entry", "l2-"),
                        ("l2ng-mac-entry", "l2ng-l2-")):
        for e in _iter(root, tag):
            mac = norm_mac(_text(e, prefix + "mac-address"))
            if mac is None or int(mac[:2], 16) & 1:
                continue
            port = _text(e, prefix + "mac-logical-interface")
            vlan = vlan_id(_text(e, prefix + "vlan-id")) or vlan_id(_text(e, "l2-bridge-vlan")) \
                or vlan_id(_text(e, prefix + "mac-vlan-name"))
            flags = _text(e, prefix + "mac-flags") or _text(e, prefix + "mac-entry-flags")
            # "D" dynamic, "S" static, "P" persistent static (the CLI legend), or "static,..." words
            tokens = {f.strip() for f in re.split(r"[,\s]+", flags)}
            out.append(_fdb(t, mac, port, vlan, "static" if tokens & {"static", "S", "P"} else "learned"))
    t.add("fdb", list(out))


def _fdb(t: Tables, mac: str, port: str, vlan: int | None, kind: str) -> FdbEntry:
    if not port or port.lower() in ("router", "cpu", "self") or port.startswith("irb"):
        return FdbEntry(switch=t.switch, ifindex=None, vlan=vlan, mac=mac, status="self")
    return FdbEntry(switch=t.switch, ifindex=t.ports.key(port), vlan=vlan, mac=mac, status=fdb_status(kind))


def junos_arp(root: ET.Element, t: Tables) -> None:
    out: list[ArpEntry] = []
    for e in _iter(root, "arp-table-entry"):
        ip, mac = norm_ip(_text(e, "ip-address")), norm_mac(_text(e, "mac-address"))
        if ip and mac:
            itf = _text(e, "interface-name")
            out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(itf) if itf else None, ip=ip, mac=mac))
    t.add("arp", list(out))


def junos_lldp(root: ET.Element, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    for e in _iter(root, "lldp-neighbor-information"):
        local = _text(e, "lldp-local-interface") or _text(e, "lldp-local-port-id")
        chassis = _text(e, "lldp-remote-chassis-id")
        desc = _text(e, "lldp-system-description", "lldp-remote-system-description") \
            or _text(e, "lldp-remote-system-description")
        out.append(LldpNeighbor(
            switch=t.switch, ifindex=t.ports.key(local) if local else None,
            chassis_id=norm_mac(chassis) or chassis,
            port_id=_text(e, "lldp-remote-port-id") or _text(e, "lldp-remote-port-description"),
            port_descr=_text(e, "lldp-remote-port-description"), sys_name=_text(e, "lldp-remote-system-name"),
            sys_desc=desc, capabilities=capabilities(_text(e, "lldp-remote-system-capabilities-enabled")),
            mgmt_ip=norm_ip(_text(e, "lldp-remote-management-address"))))
    t.add("lldp", list(out))


def junos_interfaces(root: ET.Element, t: Tables) -> None:
    out: list[Interface] = []
    for phy in _iter(root, "physical-interface"):
        entries = [(phy, True)] + [(lg, False) for lg in _children(phy, "logical-interface")]
        phy_oper = _text(phy, "oper-status")
        for e, physical in entries:
            name = _text(e, "name")
            if not name:
                continue
            snmp = to_int(_text(e, "snmp-index"))
            if snmp is not None:
                t.ports.learn(name, snmp)
            key = t.ports.key(name)
            if key is None:
                continue
            # A unit has no oper-status of its own: it is up when its port is (iff-down is admin state).
            oper = _text(e, "oper-status") or phy_oper
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=_text(e, "description"),
                speed=speed_mbps(_text(e, "speed")) if physical else None, oper_up=is_up(oper),
                phys_address=norm_mac(_text(e, "current-physical-address")) if physical else None))
    t.add("interfaces", list(out))


# --------------------------------------------------------------- Cisco IOS-XR
def xr_fdb(root: ET.Element, t: Tables) -> None:
    out: list[FdbEntry] = []
    for e in _iter(root, "l2fibmac-detail"):
        mac = norm_mac(_text(e, "address"))
        if mac is None:
            continue
        port = _text(e, "segment", "ac", "interface-handle")
        # NAPALM's reading: the VLAN is the sub-interface's number (Bundle-Ether1.100 -> 100).
        vlan = vlan_id(port.rsplit(".", 1)[1]) if "." in port else None
        out.append(_fdb(t, mac, port, vlan, "learned"))
    t.add("fdb", list(out))


def xr_arp(root: ET.Element, t: Tables) -> None:
    out: list[ArpEntry] = []
    for e in _iter(root, "entry"):
        ip, mac = norm_ip(_text(e, "address")), norm_mac(_text(e, "hardware-address"))
        if ip and mac and mac != "00:00:00:00:00:00":
            itf = _text(e, "interface-name")
            out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(itf) if itf else None, ip=ip, mac=mac))
    t.add("arp", list(out))


def xr_lldp(root: ET.Element, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    for n in _iter(root, "lldp-neighbor"):
        d = _child(n, "detail")
        local = _text(n, "receiving-interface-name")
        mgmt = None
        for a in _iter(n, "address"):
            mgmt = mgmt or norm_ip(_text(a, "ipv4-address")) or norm_ip(_text(a, "ipv6-address"))
        chassis = _text(n, "chassis-id")
        out.append(LldpNeighbor(
            switch=t.switch, ifindex=t.ports.key(local) if local else None, chassis_id=norm_mac(chassis) or chassis,
            port_id=_text(n, "port-id-detail"), port_descr=_text(d, "port-description"),
            sys_name=_text(d, "system-name") or _text(n, "device-id"), sys_desc=_text(d, "system-description"),
            capabilities=capabilities(_text(d, "enabled-capabilities") or _text(n, "enabled-capabilities")),
            mgmt_ip=mgmt))
    t.add("lldp", list(out))


def xr_interfaces(root: ET.Element, t: Tables) -> None:
    descr = {_text(i, "interface-name"): _text(i, "description")
             for top in _iter(root, "interfaces") for i in _children(top, "interface")}
    out: list[Interface] = []
    for xr in _iter(root, "interface-xr"):
        for i in _children(xr, "interface"):
            name = _text(i, "interface-name")
            key = t.ports.key(name)
            if key is None:
                continue
            bw = to_int(_text(i, "bandwidth"))
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=descr.get(name, ""),
                speed=bw // 1000 if bw else None, oper_up=_text(i, "line-state") == "im-state-up",
                phys_address=norm_mac(_text(i, "mac-address", "address"))))
    t.add("interfaces", list(out))


# --------------------------------------------------------------- Nokia SR OS
def _sros_states(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == "state" and _ns(e) == NS_SROS_STATE]


def sros_arp(root: ET.Element, t: Tables) -> None:
    out: list[ArpEntry] = []
    for state in _sros_states(root):
        for itf in _iter(state, "interface"):
            name = _text(itf, "interface-name")
            for n in _iter(itf, "neighbor"):
                ip = norm_ip(_text(n, "ipv4-address") or _text(n, "ipv6-address"))
                mac = norm_mac(_text(n, "mac-address"))
                if ip and mac:
                    out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(name) if name else None, ip=ip, mac=mac))
    t.add("arp", list(out))


def sros_lldp(root: ET.Element, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    for state in _sros_states(root):
        for port in _children(state, "port"):
            local = _text(port, "port-id")
            for r in _iter(port, "remote-system"):
                chassis = _text(r, "chassis-id")
                out.append(LldpNeighbor(
                    switch=t.switch, ifindex=t.ports.key(local), chassis_id=norm_mac(chassis) or chassis,
                    port_id=_text(r, "remote-port-id"), port_descr=_text(r, "port-description"),
                    sys_name=_text(r, "system-name"), sys_desc=_text(r, "system-description"),
                    capabilities=capabilities(_text(r, "system-enabled-capabilities"))))
    t.add("lldp", list(out))


def sros_interfaces(root: ET.Element, t: Tables) -> None:
    conf = {_text(p, "port-id"): p for top in root.iter() if _local(top.tag) == "configure"
            for p in _children(top, "port")}
    out: list[Interface] = []
    for state in _sros_states(root):
        for p in _children(state, "port"):
            name = _text(p, "port-id")
            key = t.ports.key(name)
            if key is None:
                continue
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=_text(conf.get(name), "description"),
                speed=speed_mbps(_text(p, "ethernet", "oper-speed")), oper_up=is_up(_text(p, "oper-state")),
                phys_address=norm_mac(_text(p, "hardware-mac-address"))))
        base_mac = norm_mac(_text(state, "chassis", "hardware-data", "base-mac-address"))
        for router in _children(state, "router"):
            for i in _children(router, "interface"):  # router (L3) interfaces, e.g. "system"
                name = _text(i, "interface-name")
                key = t.ports.key(name)
                if key is None:
                    continue
                out.append(Interface(switch=t.switch, ifindex=key, name=name, descr=name,
                                     oper_up=is_up(_text(i, "oper-state")), phys_address=base_mac))
    t.add("interfaces", list(out))


def sros_fdb_text(text: str, t: Tables) -> None:
    """SR OS ``show service fdb-mac`` (no NETCONF model in the corpus has it; no TextFSM template exists)."""
    out: list[FdbEntry] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        mac = norm_mac(parts[1])
        if mac is None:
            continue
        source = parts[2]
        if source.startswith("sap:"):
            port = source[4:].rsplit(":", 1)[0]
            tag = source.rsplit(":", 1)[1] if source.count(":") >= 2 else ""
            out.append(FdbEntry(switch=t.switch, ifindex=t.ports.key(port), vlan=vlan_id(tag), mac=mac,
                                status="mgmt" if parts[3].startswith("S") else "learned"))
        else:  # cpm, an interface of the service itself, or an SDP (a pseudowire): not a port
            out.append(FdbEntry(switch=t.switch, ifindex=None, vlan=None, mac=mac,
                                status="self" if source in ("cpm",) or parts[3] == "Intf" else "other"))
    t.add("fdb", list(out))


# --------------------------------------------------------------- OpenConfig
def oc_interfaces(root: ET.Element, t: Tables) -> None:
    out: list[Interface] = []
    arp: list[ArpEntry] = []
    saw_ip = False
    for top in root.iter():
        if _local(top.tag) != "interfaces" or _ns(top) != NS_OC_IF:
            continue
        for i in _children(top, "interface"):
            name = _text(i, "name")
            st = _child(i, "state")
            idx = to_int(_text(st, "ifindex"))
            if idx is not None:
                t.ports.learn(name, idx)
            key = t.ports.key(name)
            if key is None:
                continue
            eth = _child(i, "ethernet", "state")
            speed = _text(eth, "port-speed")  # e.g. openconfig-if-ethernet:SPEED_1GB
            sp = speed.rsplit("SPEED_", 1)[-1].replace("B", "") if "SPEED_" in speed else ""
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=_text(st, "description"),
                speed=speed_mbps(sp) if sp else None, oper_up=is_up(_text(st, "oper-status")),
                phys_address=norm_mac(_text(eth, "mac-address")) or norm_mac(_text(st, "mac-address"))))
            for sub in _iter(i, "subinterface"):
                for fam in ("ipv4", "ipv6"):
                    neigh = _child(sub, fam, "neighbors")
                    if neigh is None:
                        continue
                    saw_ip = True
                    for n in _children(neigh, "neighbor"):
                        nst = _child(n, "state")
                        ip = norm_ip(_text(nst, "ip") or _text(n, "ip"))
                        mac = norm_mac(_text(nst, "link-layer-address"))
                        if ip and mac:
                            arp.append(ArpEntry(router=t.switch, ifindex=key, ip=ip, mac=mac))
    if out:
        t.add("interfaces", list(out))
    if saw_ip or arp:
        t.add("arp", list(arp))


def oc_fdb(root: ET.Element, t: Tables) -> None:
    out: list[FdbEntry] = []
    for top in root.iter():
        if _local(top.tag) != "network-instances" or _ns(top) != NS_OC_NI:
            continue
        for e in _iter(top, "entry"):
            st = _child(e, "state")
            mac = norm_mac(_text(st, "mac-address") or _text(e, "mac-address"))
            if mac is None:
                continue
            port = _text(e, "interface", "interface-ref", "state", "interface")
            out.append(_fdb(t, mac, port, vlan_id(_text(st, "vlan") or _text(e, "vlan")),
                            _text(st, "entry-type").lower() or "dynamic"))
    t.add("fdb", list(out))


def oc_lldp(root: ET.Element, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    for top in root.iter():
        if _local(top.tag) != "lldp" or _ns(top) != NS_OC_LLDP:
            continue
        for i in _iter(top, "interface"):
            local = _text(i, "name")
            for n in _iter(i, "neighbor"):
                st = _child(n, "state")
                caps = [_text(c, "name").rsplit(":", 1)[-1] for c in _iter(n, "capability")
                        if _text(c, "state", "enabled") == "true"]
                chassis = _text(st, "chassis-id")
                out.append(LldpNeighbor(
                    switch=t.switch, ifindex=t.ports.key(local) if local else None,
                    chassis_id=norm_mac(chassis) or chassis, port_id=_text(st, "port-id"),
                    port_descr=_text(st, "port-description"), sys_name=_text(st, "system-name"),
                    sys_desc=_text(st, "system-description"),
                    capabilities=capabilities([c.replace("_", "-").lower() for c in caps]),
                    mgmt_ip=norm_ip(_text(st, "management-address"))))
    t.add("lldp", list(out))


def oc_system(root: ET.Element, t: Tables) -> None:
    for top in root.iter():
        if _local(top.tag) == "system" and _ns(top) == NS_OC_SYS:
            name = _text(top, "state", "hostname") or _text(top, "config", "hostname")
            t.system = SwitchInfo(switch=t.switch, sys_name=name)


# --------------------------------------------------------------- IETF
def ietf_interfaces(root: ET.Element, t: Tables) -> None:
    out: list[Interface] = []
    arp: list[ArpEntry] = []
    saw_ip = False
    for top in root.iter():
        if _local(top.tag) not in ("interfaces", "interfaces-state") or _ns(top) != NS_IETF_IF:
            continue
        for i in _children(top, "interface"):
            name = _text(i, "name")
            idx = to_int(_text(i, "if-index"))
            if idx is not None:
                t.ports.learn(name, idx)
            key = t.ports.key(name)
            if key is None:
                continue
            bps = to_int(_text(i, "speed"))
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=_text(i, "description"),
                speed=bps // 1_000_000 if bps else None, oper_up=is_up(_text(i, "oper-status")),
                phys_address=norm_mac(_text(i, "phys-address"))))
            for fam in ("ipv4", "ipv6"):
                ipn = _child(i, fam)
                if ipn is None or _ns(ipn) != NS_IETF_IP:
                    continue
                saw_ip = True
                for n in _children(ipn, "neighbor"):
                    ip, mac = norm_ip(_text(n, "ip")), norm_mac(_text(n, "link-layer-address"))
                    if ip and mac:
                        arp.append(ArpEntry(router=t.switch, ifindex=key, ip=ip, mac=mac))
    if out:
        t.add("interfaces", list(out))
    if saw_ip:
        t.add("arp", list(arp))


SHAPES: list[tuple[str, Callable[[ET.Element], bool], Callable[[ET.Element, Tables], None]]] = [
    ("junos-fdb", _has("mac-table-entry", "l2ng-l2ald-mac-entry-vlan", "l2ald-mac-entry", "l2ng-mac-entry",
                       "l2ng-l2ald-rtb-macdb", "l2ald-rtb-macdb", "ethernet-switching-table-information"), junos_fdb),
    ("junos-arp", _has("arp-table-entry"), junos_arp),
    ("junos-lldp", _has("lldp-neighbor-information"), junos_lldp),
    ("junos-interfaces", _has("physical-interface"), junos_interfaces),
    ("xr-fdb", _has("l2vpn-forwarding", ns=NS_XR_L2VPN), xr_fdb),
    ("xr-arp", _has("arp", ns=NS_XR_ARP), xr_arp),
    ("xr-lldp", _has("lldp", ns=NS_XR_LLDP), xr_lldp),
    ("xr-interfaces", _has("interfaces", ns=NS_XR_IF), xr_interfaces),
    ("sros-arp", lambda r: any(_iter(s, "neighbor-discovery") for s in _sros_states(r)), sros_arp),
    ("sros-lldp", lambda r: any(_iter(s, "lldp") for s in _sros_states(r)), sros_lldp),
    ("sros-interfaces", lambda r: any(_child(s, "port") is not None and not any(_iter(s, "lldp"))
                                      for s in _sros_states(r)), sros_interfaces),
    ("oc-interfaces", _has("interfaces", ns=NS_OC_IF), oc_interfaces),
    ("oc-fdb", _has("network-instances", ns=NS_OC_NI), oc_fdb),
    ("oc-lldp", _has("lldp", ns=NS_OC_LLDP), oc_lldp),
    ("oc-system", _has("system", ns=NS_OC_SYS), oc_system),
    ("ietf-interfaces", _has("interfaces", "interfaces-state", ns=NS_IETF_IF), ietf_interfaces),
]


# --------------------------------------------------------------- what to ask
FILTERS: dict[str, str] = {
    "oc-interfaces": f'<interfaces xmlns="{NS_OC_IF}"/>',
    "oc-fdb": f'<network-instances xmlns="{NS_OC_NI}"><network-instance><fdb><mac-table/></fdb>'
              "</network-instance></network-instances>",
    "oc-lldp": f'<lldp xmlns="{NS_OC_LLDP}"><interfaces/></lldp>',
    "oc-system": f'<system xmlns="{NS_OC_SYS}"><state><hostname/></state></system>',
    "ietf-interfaces": f'<interfaces-state xmlns="{NS_IETF_IF}"/>',
    "ietf-interfaces-nmda": f'<interfaces xmlns="{NS_IETF_IF}"/>',
    "xr-interfaces": f'<interfaces xmlns="{NS_XR_IF}"/>',
    "xr-arp": f'<arp xmlns="{NS_XR_ARP}"/>',
    "xr-lldp": f'<lldp xmlns="{NS_XR_LLDP}"><nodes><node><neighbors><details/></neighbors></node></nodes></lldp>',
    "xr-fdb": f'<l2vpn-forwarding xmlns="{NS_XR_L2VPN}"><nodes><node><l2fibmac-details/></node></nodes>'
              "</l2vpn-forwarding>",
    "sros-state": f'<state xmlns="{NS_SROS_STATE}"><port/><router><interface/></router></state>',
}
JUNOS_RPCS: dict[str, str] = {
    "interfaces": "<get-interface-information><terse/></get-interface-information>",
    "fdb": "<get-ethernet-switching-table-information/>",
    "arp": "<get-arp-table-information><no-resolve/></get-arp-table-information>",
    "lldp": "<get-lldp-neighbors-information/>",
}


@dataclass(frozen=True)
class Plan:
    """What to ask a server, decided from its hello."""

    family: str  # "junos", "openconfig", "ietf", "iosxr", "sros"
    gets: tuple[tuple[str, str], ...]  # (table(s) it fills, subtree filter)
    rpcs: tuple[tuple[str, str], ...]  # (table, raw RPC XML)


def plan_for(capabilities_: list[str]) -> Plan:
    """Choose models from the server's capabilities (pure)."""
    caps = " ".join(capabilities_)
    if NS_JUNOS in caps or "junos" in caps.lower():
        return Plan("junos", (), tuple(JUNOS_RPCS.items()))
    if "Cisco-IOS-XR" in caps:
        return Plan("iosxr", tuple((k.split("-", 1)[1], FILTERS[k]) for k in
                                   ("xr-interfaces", "xr-fdb", "xr-arp", "xr-lldp")), ())
    if "urn:nokia.com:sros" in caps:
        return Plan("sros", (("interfaces,arp,lldp", FILTERS["sros-state"]),), ())
    gets: list[tuple[str, str]] = []
    family = "ietf"
    if NS_OC_IF in caps or "openconfig-interfaces" in caps:
        family = "openconfig"
        gets.append(("interfaces,arp", FILTERS["oc-interfaces"]))
    elif NS_IETF_IF in caps or "ietf-interfaces" in caps:
        nmda = "ietf-interfaces?module=ietf-interfaces&revision=2018" in caps or "revision=2018-02-20" in caps
        gets.append(("interfaces,arp", FILTERS["ietf-interfaces-nmda" if nmda else "ietf-interfaces"]))
    if NS_OC_NI in caps or "openconfig-network-instance" in caps:
        family = "openconfig"
        gets.append(("fdb", FILTERS["oc-fdb"]))
    if NS_OC_LLDP in caps or "openconfig-lldp" in caps:
        family = "openconfig"
        gets.append(("lldp", FILTERS["oc-lldp"]))
    if NS_OC_SYS in caps or "openconfig-system" in caps:
        gets.append(("system", FILTERS["oc-system"]))
    if not gets:
        raise SourceError("the NETCONF server announces none of the models the sensor reads "
                          "(OpenConfig, IETF interfaces/ip, Junos, IOS-XR, SR OS)")
    return Plan(family, tuple(gets), ())


# --------------------------------------------------------------- I/O
@dataclass(frozen=True)
class NetconfTarget:
    host: str
    port: int = 830
    username: str = ""
    password: str | None = None
    key_file: str | None = None
    host_key_file: str | None = None
    insecure_no_host_key_check: bool = False
    timeout: float = 30.0


def rpc_error_text(e: Exception) -> str:
    """One line for an <rpc-error> (ncclient's str() of one without a message is a dict repr)."""
    tag, message = getattr(e, "tag", None), getattr(e, "message", None)
    info = getattr(e, "info", None)
    detail = (message or "").strip()
    if not detail and isinstance(info, str):
        try:
            detail = " ".join(t.strip() for t in parse_xml(info).itertext() if t.strip())
        except ReplyError:
            detail = ""
    text = f"rpc-error {tag}" if tag else "rpc-error"
    return f"{text}: {detail}" if detail else text


def _poll_blocking(switch: str, target: NetconfTarget) -> tuple[Tables, Plan]:
    from ncclient.operations.errors import OperationError, TimeoutExpiredError
    from ncclient.operations.rpc import RPCError
    from ncclient.transport.errors import AuthenticationError, SSHError, TransportError
    from ncclient.xml_ import to_ele

    if target.insecure_no_host_key_check:
        log.warning("%s: NETCONF host key NOT checked (insecure_no_host_key_check = true)", switch)
    kwargs: dict[str, Any] = dict(
        host=target.host, port=target.port, username=target.username, timeout=target.timeout,
        hostkey_verify=not target.insecure_no_host_key_check, allow_agent=False, look_for_keys=False,
        manager_params={"timeout": target.timeout})
    if target.password is not None:
        kwargs["password"] = target.password
    if target.key_file:
        kwargs["key_filename"] = target.key_file
    if target.host_key_file and not target.insecure_no_host_key_check:
        kwargs["known_hosts"] = target.host_key_file
    t = Tables(switch=switch, ports=Ports("iosxr"))
    try:
        with _connect(kwargs) as m:
            plan = plan_for(list(m.server_capabilities))
            if plan.family == "iosxr":
                t.ports.platform = "iosxr"
            elif plan.family == "sros":
                t.ports.platform = "sros"
            elif plan.family == "junos":
                t.ports.platform = "juniper_junos"
            else:
                t.ports.platform = "linux"  # model names are used verbatim
            for tables_, flt in plan.gets:
                try:
                    reply = m.get(filter=("subtree", flt))
                    parse_reply(reply.data_xml, t)
                except RPCError as e:
                    t.fail(tables_.split(","), "refused", rpc_error_text(e))
                except TimeoutExpiredError as e:
                    t.fail(tables_.split(","), "timeout", f"{type(e).__name__}: {e}")
                except (ReplyError, OperationError) as e:
                    t.fail(tables_.split(","), "other", f"{type(e).__name__}: {e}")
            for table, rpc in plan.rpcs:
                try:
                    reply = m.dispatch(to_ele(rpc))
                    parse_reply(reply.xml, t)
                except RPCError as e:
                    t.fail([table], "refused", rpc_error_text(e))
                except TimeoutExpiredError as e:
                    t.fail([table], "timeout", f"{type(e).__name__}: {e}")
                except (ReplyError, OperationError) as e:
                    t.fail([table], "other", f"{type(e).__name__}: {e}")
            return t, plan
    except AuthenticationError as e:
        raise SourceError(f"{target.host}:{target.port}: NETCONF authentication failed for "
                          f"{target.username}: {e}", kind="auth") from None
    except SSHError as e:  # also an unknown or changed host key (SSHUnknownHostError)
        raise SourceError(f"{target.host}:{target.port}: NETCONF over SSH failed: {e} (an unknown or "
                          "changed host key is refused: check host_key_file)") from None
    except TransportError as e:  # the session closed under us
        raise SourceError(f"{target.host}:{target.port}: NETCONF session lost: {e}") from None
    except OSError as e:
        raise SourceError(f"{target.host}:{target.port}: cannot connect: {e}") from None


def _connect(kwargs: dict[str, Any]) -> Any:
    """ncclient's connect, with host keys read only from the switch's own known-hosts file."""
    from ncclient import manager
    from ncclient.transport import ssh as nc_ssh

    known_hosts = kwargs.pop("known_hosts", None)
    kwargs.pop("ssh_config", None)
    manager_params = kwargs.pop("manager_params", {})

    class Session(nc_ssh.SSHSession):  # type: ignore[misc]
        def load_known_hosts(self, filename: str | None = None) -> None:
            if known_hosts:  # never ~/.ssh/known_hosts implicitly
                try:
                    self._host_keys.load(known_hosts)
                except OSError as e:
                    raise SourceError(f"host_key_file {known_hosts}: {e.strerror or e}") from None

    handler = manager.make_device_handler({"name": "default"})
    session = Session(handler)
    try:
        session.connect(**kwargs)
    except Exception:
        if session.transport:
            session.close()
        raise
    return manager.Manager(session, handler, **manager_params)


async def poll(switch: str, target: NetconfTarget, *, clock: Callable[[], float] = time.time
               ) -> tuple[Tables, float]:
    """One NETCONF poll of one switch in a worker thread (the event loop never blocks)."""
    taken_at = clock()
    tables, _plan = await asyncio.to_thread(_poll_blocking, switch, target)
    return tables, taken_at
