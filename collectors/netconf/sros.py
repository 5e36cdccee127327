"""Nokia SR OS: the ``urn:nokia.com:sros`` state tree (ports, router interfaces, ARP/ND, LLDP),
and the text of ``show service fdb-mac``. Pure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor
from collectors.netconf.common import Shape, child, children, descendants, get_text, local_name, namespace
from collectors.tables import Tables, capabilities, is_up, norm_ip, norm_mac, speed_mbps, vlan_id

NS_SROS_STATE = "urn:nokia.com:sros:ns:yang:sr:state"

FILTERS: dict[str, str] = {
    "sros-state": f'<state xmlns="{NS_SROS_STATE}"><port/><router><interface/></router></state>',
}


def sros_states(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if local_name(e.tag) == "state" and namespace(e) == NS_SROS_STATE]


def sros_arp(root: ET.Element, t: Tables) -> None:
    out: list[ArpEntry] = []
    for state in sros_states(root):
        for itf in descendants(state, "interface"):
            name = get_text(itf, "interface-name")
            for n in descendants(itf, "neighbor"):
                ip = norm_ip(get_text(n, "ipv4-address") or get_text(n, "ipv6-address"))
                mac = norm_mac(get_text(n, "mac-address"))
                if ip and mac:
                    out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(name) if name else None, ip=ip, mac=mac))
    t.add("arp", list(out))


def sros_lldp(root: ET.Element, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    for state in sros_states(root):
        for port in children(state, "port"):
            local = get_text(port, "port-id")
            for r in descendants(port, "remote-system"):
                chassis = get_text(r, "chassis-id")
                out.append(LldpNeighbor(
                    switch=t.switch, ifindex=t.ports.key(local), chassis_id=norm_mac(chassis) or chassis,
                    port_id=get_text(r, "remote-port-id"), port_descr=get_text(r, "port-description"),
                    sys_name=get_text(r, "system-name"), sys_desc=get_text(r, "system-description"),
                    capabilities=capabilities(get_text(r, "system-enabled-capabilities"))))
    t.add("lldp", list(out))


def sros_interfaces(root: ET.Element, t: Tables) -> None:
    conf = {get_text(p, "port-id"): p for top in root.iter() if local_name(top.tag) == "configure"
            for p in children(top, "port")}
    out: list[Interface] = []
    for state in sros_states(root):
        for p in children(state, "port"):
            name = get_text(p, "port-id")
            key = t.ports.key(name)
            if key is None:
                continue
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=get_text(conf.get(name), "description"),
                speed=speed_mbps(get_text(p, "ethernet", "oper-speed")), oper_up=is_up(get_text(p, "oper-state")),
                phys_address=norm_mac(get_text(p, "hardware-mac-address"))))
        base_mac = norm_mac(get_text(state, "chassis", "hardware-data", "base-mac-address"))
        for router in children(state, "router"):
            for i in children(router, "interface"):  # router (L3) interfaces, e.g. "system"
                name = get_text(i, "interface-name")
                key = t.ports.key(name)
                if key is None:
                    continue
                out.append(Interface(switch=t.switch, ifindex=key, name=name, descr=name,
                                     oper_up=is_up(get_text(i, "oper-state")), phys_address=base_mac))
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


SHAPES: list[Shape] = [
    ("sros-arp", lambda r: any(descendants(s, "neighbor-discovery") for s in sros_states(r)), sros_arp),
    ("sros-lldp", lambda r: any(descendants(s, "lldp") for s in sros_states(r)), sros_lldp),
    ("sros-interfaces", lambda r: any(child(s, "port") is not None and not any(descendants(s, "lldp"))
                                      for s in sros_states(r)), sros_interfaces),
]
