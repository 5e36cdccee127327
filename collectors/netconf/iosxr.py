"""Cisco IOS-XR operational models: interfaces (pfi-im-cmd-oper), l2vpn-forwarding MAC details,
ipv4-arp-oper and ethernet-lldp-oper. Pure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor
from collectors.netconf.common import Shape, child, children, descendants, fdb_entry, get_text, has_element
from collectors.tables import Tables, capabilities, norm_ip, norm_mac, to_int, vlan_id

NS_XR_ARP = "http://cisco.com/ns/yang/Cisco-IOS-XR-ipv4-arp-oper"
NS_XR_LLDP = "http://cisco.com/ns/yang/Cisco-IOS-XR-ethernet-lldp-oper"
NS_XR_IF = "http://cisco.com/ns/yang/Cisco-IOS-XR-pfi-im-cmd-oper"
NS_XR_L2VPN = "http://cisco.com/ns/yang/Cisco-IOS-XR-l2vpn-oper"

FILTERS: dict[str, str] = {
    "xr-interfaces": f'<interfaces xmlns="{NS_XR_IF}"/>',
    "xr-arp": f'<arp xmlns="{NS_XR_ARP}"/>',
    "xr-lldp": f'<lldp xmlns="{NS_XR_LLDP}"><nodes><node><neighbors><details/></neighbors></node></nodes></lldp>',
    "xr-fdb": f'<l2vpn-forwarding xmlns="{NS_XR_L2VPN}"><nodes><node><l2fibmac-details/></node></nodes>'
              "</l2vpn-forwarding>",
}


def xr_fdb(root: ET.Element, t: Tables) -> None:
    out: list[FdbEntry] = []
    for e in descendants(root, "l2fibmac-detail"):
        mac = norm_mac(get_text(e, "address"))
        if mac is None:
            continue
        port = get_text(e, "segment", "ac", "interface-handle")
        # NAPALM's reading: the VLAN is the sub-interface's number (Bundle-Ether1.100 -> 100).
        vlan = vlan_id(port.rsplit(".", 1)[1]) if "." in port else None
        out.append(fdb_entry(t, mac, port, vlan, "learned"))
    t.add("fdb", list(out))


def xr_arp(root: ET.Element, t: Tables) -> None:
    out: list[ArpEntry] = []
    for e in descendants(root, "entry"):
        ip, mac = norm_ip(get_text(e, "address")), norm_mac(get_text(e, "hardware-address"))
        if ip and mac and mac != "00:00:00:00:00:00":
            itf = get_text(e, "interface-name")
            out.append(ArpEntry(router=t.switch, ifindex=t.ports.key(itf) if itf else None, ip=ip, mac=mac))
    t.add("arp", list(out))


def xr_lldp(root: ET.Element, t: Tables) -> None:
    out: list[LldpNeighbor] = []
    for n in descendants(root, "lldp-neighbor"):
        d = child(n, "detail")
        local = get_text(n, "receiving-interface-name")
        mgmt = None
        for a in descendants(n, "address"):
            mgmt = mgmt or norm_ip(get_text(a, "ipv4-address")) or norm_ip(get_text(a, "ipv6-address"))
        chassis = get_text(n, "chassis-id")
        out.append(LldpNeighbor(
            switch=t.switch, ifindex=t.ports.key(local) if local else None, chassis_id=norm_mac(chassis) or chassis,
            port_id=get_text(n, "port-id-detail"), port_descr=get_text(d, "port-description"),
            sys_name=get_text(d, "system-name") or get_text(n, "device-id"), sys_desc=get_text(d, "system-description"),
            capabilities=capabilities(get_text(d, "enabled-capabilities") or get_text(n, "enabled-capabilities")),
            mgmt_ip=mgmt))
    t.add("lldp", list(out))


def xr_interfaces(root: ET.Element, t: Tables) -> None:
    descr = {get_text(i, "interface-name"): get_text(i, "description")
             for top in descendants(root, "interfaces") for i in children(top, "interface")}
    out: list[Interface] = []
    for xr in descendants(root, "interface-xr"):
        for i in children(xr, "interface"):
            name = get_text(i, "interface-name")
            key = t.ports.key(name)
            if key is None:
                continue
            bw = to_int(get_text(i, "bandwidth"))
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=descr.get(name, ""),
                speed=bw // 1000 if bw else None, oper_up=get_text(i, "line-state") == "im-state-up",
                phys_address=norm_mac(get_text(i, "mac-address", "address"))))
    t.add("interfaces", list(out))


SHAPES: list[Shape] = [
    ("xr-fdb", has_element("l2vpn-forwarding", ns=NS_XR_L2VPN), xr_fdb),
    ("xr-arp", has_element("arp", ns=NS_XR_ARP), xr_arp),
    ("xr-lldp", has_element("lldp", ns=NS_XR_LLDP), xr_lldp),
    ("xr-interfaces", has_element("interfaces", ns=NS_XR_IF), xr_interfaces),
]
