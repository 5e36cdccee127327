"""Junos: the RPC replies of get-interface-information (terse), get-ethernet-switching-table-information
(legacy EX, ELS and MX bridge domains), get-arp-table-information (no-resolve) and
get-lldp-neighbors-information. Also read by the CLI collector from ``| display xml``. Pure.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor
from collectors.netconf.common import Shape, child, children, descendants, fdb_entry, get_text, has_element
from collectors.tables import Tables, capabilities, is_up, norm_ip, norm_mac, speed_mbps, to_int, vlan_id

NS_JUNOS = "http://xml.juniper.net/"

JUNOS_RPCS: dict[str, str] = {
    "interfaces": "<get-interface-information><terse/></get-interface-information>",
    "fdb": "<get-ethernet-switching-table-information/>",
    "arp": "<get-arp-table-information><no-resolve/></get-arp-table-information>",
    "lldp": "<get-lldp-neighbors-information/>",
}


def junos_fdb(root: ET.Element, t: Tables) -> None:
    out: list[FdbEntry] = []
    # Legacy EX: ethernet-switching-table/mac-table-entry
    for e in descendants(root, "mac-table-entry"):
        mac = norm_mac(get_text(e, "mac-address"))
        if mac is None or int(mac[:2], 16) & 1:
            continue
        ports = [get_text(i) for i in children(child(e, "mac-interfaces-list"), "mac-interfaces")] \
            or [get_text(e, "mac-interface")]
        if len(ports) != 1:
            continue
        vlan = vlan_id(get_text(e, "mac-vlan-tag")) or vlan_id(get_text(e, "mac-vlan"))
        out.append(fdb_entry(t, mac, ports[0], vlan, get_text(e, "mac-type")))
    # ELS (l2ng) and MX bridge domains
    for tag, prefix in (("l2ng-l2ald-mac-entry-vlan", "l2ng-l2-"), ("l2ald-mac-entry", "l2-"),
                        ("l2ng-mac-entry", "l2ng-l2-")):
        for e in descendants(root, tag):
            mac = norm_mac(get_text(e, prefix + "mac-address"))
            if mac is None or int(mac[:2], 16) & 1:
                continue
            port = get_text(e, prefix + "mac-logical-interface")
            vlan = vlan_id(get_text(e, prefix + "vlan-id")) or vlan_id(get_text(e, "l2-bridge-vlan")) \
                or vlan_id(get_text(e, prefix + "mac-vlan-name"))
            flags = get_text(e, prefix + "mac-flags") or get_text(e, prefix + "mac-entry-flags")
            # "D" dynamic, "S" static, "P" persistent static (the CLI legend), or "static,..." words
            tokens = {f.strip() for f in re.split(r"[,\s]+", flags)}
            out.append(fdb_entry(t, mac, port, vlan, "static" if tokens & {"static", "S", "P"} else "learned"))
    t.add("fdb", list(out))


def junos_arp(root: ET.Element, t: Tables) -> None:
    out: list[ArpEntry] = []
    for e in descendants(root, "arp-table-entry"):
        ip, mac = norm_ip(get_text(e, "ip-address")), norm_mac(get_text(e, "mac-address"))
        if ip and mac:
            itf = get_text(e, "interface-name")
            out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(itf) if itf else None, ip=ip, mac=mac))
    t.add("arp", list(out))


def junos_lldp(root: ET.Element, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    for e in descendants(root, "lldp-neighbor-information"):
        local = get_text(e, "lldp-local-interface") or get_text(e, "lldp-local-port-id")
        chassis = get_text(e, "lldp-remote-chassis-id")
        desc = get_text(e, "lldp-system-description", "lldp-remote-system-description") \
            or get_text(e, "lldp-remote-system-description")
        out.append(LldpNeighbor(
            switch=t.switch, ifindex=t.ports.key(local) if local else None,
            chassis_id=norm_mac(chassis) or chassis,
            port_id=get_text(e, "lldp-remote-port-id") or get_text(e, "lldp-remote-port-description"),
            port_descr=get_text(e, "lldp-remote-port-description"), sys_name=get_text(e, "lldp-remote-system-name"),
            sys_desc=desc, capabilities=capabilities(get_text(e, "lldp-remote-system-capabilities-enabled")),
            mgmt_ip=norm_ip(get_text(e, "lldp-remote-management-address"))))
    t.add("lldp", list(out))


def junos_interfaces(root: ET.Element, t: Tables) -> None:
    out: list[Interface] = []
    for phy in descendants(root, "physical-interface"):
        entries = [(phy, True)] + [(lg, False) for lg in children(phy, "logical-interface")]
        phy_oper = get_text(phy, "oper-status")
        for e, physical in entries:
            name = get_text(e, "name")
            if not name:
                continue
            snmp = to_int(get_text(e, "snmp-index"))
            if snmp is not None:
                t.ports.learn(name, snmp)
            key = t.ports.key(name)
            if key is None:
                continue
            # A unit has no oper-status of its own: it is up when its port is (iff-down is admin state).
            oper = get_text(e, "oper-status") or phy_oper
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=get_text(e, "description"),
                speed=speed_mbps(get_text(e, "speed")) if physical else None, oper_up=is_up(oper),
                phys_address=norm_mac(get_text(e, "current-physical-address")) if physical else None))
    t.add("interfaces", list(out))


SHAPES: list[Shape] = [
    ("junos-fdb", has_element("mac-table-entry", "l2ng-l2ald-mac-entry-vlan", "l2ald-mac-entry", "l2ng-mac-entry",
                              "l2ng-l2ald-rtb-macdb", "l2ald-rtb-macdb", "ethernet-switching-table-information"),
     junos_fdb),
    ("junos-arp", has_element("arp-table-entry"), junos_arp),
    ("junos-lldp", has_element("lldp-neighbor-information"), junos_lldp),
    ("junos-interfaces", has_element("physical-interface"), junos_interfaces),
]
