"""OpenConfig: openconfig-interfaces (with if-ip neighbours), the network-instance FDB mac-table,
openconfig-lldp and the system hostname. Pure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor, SwitchInfo
from collectors.netconf.common import (
    Shape,
    child,
    children,
    descendants,
    fdb_entry,
    get_text,
    has_element,
    local_name,
    namespace,
)
from collectors.tables import Tables, capabilities, is_up, norm_ip, norm_mac, speed_mbps, to_int, vlan_id

NS_OC_IF = "http://openconfig.net/yang/interfaces"
NS_OC_IP = "http://openconfig.net/yang/interfaces/ip"
NS_OC_NI = "http://openconfig.net/yang/network-instance"
NS_OC_LLDP = "http://openconfig.net/yang/lldp"
NS_OC_SYS = "http://openconfig.net/yang/system"

FILTERS: dict[str, str] = {
    "oc-interfaces": f'<interfaces xmlns="{NS_OC_IF}"/>',
    "oc-fdb": f'<network-instances xmlns="{NS_OC_NI}"><network-instance><fdb><mac-table/></fdb>'
              "</network-instance></network-instances>",
    "oc-lldp": f'<lldp xmlns="{NS_OC_LLDP}"><interfaces/></lldp>',
    "oc-system": f'<system xmlns="{NS_OC_SYS}"><state><hostname/></state></system>',
}


def oc_interfaces(root: ET.Element, t: Tables) -> None:
    out: list[Interface] = []
    arp: list[ArpEntry] = []
    saw_ip = False
    for top in root.iter():
        if local_name(top.tag) != "interfaces" or namespace(top) != NS_OC_IF:
            continue
        for i in children(top, "interface"):
            name = get_text(i, "name")
            st = child(i, "state")
            idx = to_int(get_text(st, "ifindex"))
            if idx is not None:
                t.ports.learn(name, idx)
            key = t.ports.key(name)
            if key is None:
                continue
            eth = child(i, "ethernet", "state")
            speed = get_text(eth, "port-speed")  # e.g. openconfig-if-ethernet:SPEED_1GB
            sp = speed.rsplit("SPEED_", 1)[-1].replace("B", "") if "SPEED_" in speed else ""
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=get_text(st, "description"),
                speed=speed_mbps(sp) if sp else None, oper_up=is_up(get_text(st, "oper-status")),
                phys_address=norm_mac(get_text(eth, "mac-address")) or norm_mac(get_text(st, "mac-address"))))
            for sub in descendants(i, "subinterface"):
                for fam in ("ipv4", "ipv6"):
                    neigh = child(sub, fam, "neighbors")
                    if neigh is None:
                        continue
                    saw_ip = True
                    for n in children(neigh, "neighbor"):
                        nst = child(n, "state")
                        ip = norm_ip(get_text(nst, "ip") or get_text(n, "ip"))
                        mac = norm_mac(get_text(nst, "link-layer-address"))
                        if ip and mac:
                            arp.append(ArpEntry(router=t.switch, ifindex=key, ip=ip, mac=mac))
    if out:
        t.add("interfaces", list(out))
    if saw_ip or arp:
        t.add("arp", list(arp))


def oc_fdb(root: ET.Element, t: Tables) -> None:
    out: list[FdbEntry] = []
    for top in root.iter():
        if local_name(top.tag) != "network-instances" or namespace(top) != NS_OC_NI:
            continue
        for e in descendants(top, "entry"):
            st = child(e, "state")
            mac = norm_mac(get_text(st, "mac-address") or get_text(e, "mac-address"))
            if mac is None:
                continue
            port = get_text(e, "interface", "interface-ref", "state", "interface")
            out.append(fdb_entry(t, mac, port, vlan_id(get_text(st, "vlan") or get_text(e, "vlan")),
                            get_text(st, "entry-type").lower() or "dynamic"))
    t.add("fdb", list(out))


def oc_lldp(root: ET.Element, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    for top in root.iter():
        if local_name(top.tag) != "lldp" or namespace(top) != NS_OC_LLDP:
            continue
        for i in descendants(top, "interface"):
            local = get_text(i, "name")
            for n in descendants(i, "neighbor"):
                st = child(n, "state")
                caps = [get_text(c, "name").rsplit(":", 1)[-1] for c in descendants(n, "capability")
                        if get_text(c, "state", "enabled") == "true"]
                chassis = get_text(st, "chassis-id")
                out.append(LldpNeighbor(
                    switch=t.switch, ifindex=t.ports.key(local) if local else None,
                    chassis_id=norm_mac(chassis) or chassis, port_id=get_text(st, "port-id"),
                    port_descr=get_text(st, "port-description"), sys_name=get_text(st, "system-name"),
                    sys_desc=get_text(st, "system-description"),
                    capabilities=capabilities([c.replace("_", "-").lower() for c in caps]),
                    mgmt_ip=norm_ip(get_text(st, "management-address"))))
    t.add("lldp", list(out))


def oc_system(root: ET.Element, t: Tables) -> None:
    for top in root.iter():
        if local_name(top.tag) == "system" and namespace(top) == NS_OC_SYS:
            name = get_text(top, "state", "hostname") or get_text(top, "config", "hostname")
            t.system = SwitchInfo(switch=t.switch, sys_name=name)


SHAPES: list[Shape] = [
    ("oc-interfaces", has_element("interfaces", ns=NS_OC_IF), oc_interfaces),
    ("oc-fdb", has_element("network-instances", ns=NS_OC_NI), oc_fdb),
    ("oc-lldp", has_element("lldp", ns=NS_OC_LLDP), oc_lldp),
    ("oc-system", has_element("system", ns=NS_OC_SYS), oc_system),
]
