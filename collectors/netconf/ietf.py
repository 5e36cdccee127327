"""IETF: ietf-interfaces (operational state, NMDA or the older interfaces-state) with ietf-ip neighbours. Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from collectors.facts import ArpEntry, Interface
from collectors.netconf.common import Shape, child, children, get_text, has_element, local_name, namespace
from collectors.tables import Tables, is_up, norm_ip, norm_mac, to_int

NS_IETF_IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
NS_IETF_IP = "urn:ietf:params:xml:ns:yang:ietf-ip"

FILTERS: dict[str, str] = {
    "ietf-interfaces": f'<interfaces-state xmlns="{NS_IETF_IF}"/>',
    "ietf-interfaces-nmda": f'<interfaces xmlns="{NS_IETF_IF}"/>',
}


def ietf_interfaces(root: ET.Element, t: Tables) -> None:
    out: list[Interface] = []
    arp: list[ArpEntry] = []
    saw_ip = False
    for top in root.iter():
        if local_name(top.tag) not in ("interfaces", "interfaces-state") or namespace(top) != NS_IETF_IF:
            continue
        for i in children(top, "interface"):
            name = get_text(i, "name")
            idx = to_int(get_text(i, "if-index"))
            if idx is not None:
                t.ports.learn(name, idx)
            key = t.ports.key(name)
            if key is None:
                continue
            bps = to_int(get_text(i, "speed"))
            out.append(Interface(
                switch=t.switch, ifindex=key, name=name, descr=name, alias=get_text(i, "description"),
                speed=bps // 1_000_000 if bps else None, oper_up=is_up(get_text(i, "oper-status")),
                phys_address=norm_mac(get_text(i, "phys-address"))))
            for fam in ("ipv4", "ipv6"):
                ipn = child(i, fam)
                if ipn is None or namespace(ipn) != NS_IETF_IP:
                    continue
                saw_ip = True
                for n in children(ipn, "neighbor"):
                    ip, mac = norm_ip(get_text(n, "ip")), norm_mac(get_text(n, "link-layer-address"))
                    if ip and mac:
                        arp.append(ArpEntry(router=t.switch, ifindex=key, ip=ip, mac=mac))
    if out:
        t.add("interfaces", list(out))
    if saw_ip:
        t.add("arp", list(arp))


SHAPES: list[Shape] = [
    ("ietf-interfaces", has_element("interfaces", "interfaces-state", ns=NS_IETF_IF), ietf_interfaces),
]
