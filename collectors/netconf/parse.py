"""Replies to tables: every model family's shapes tried on one reply, and what to ask a server. Pure."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from collectors.errors import SourceError
from collectors.netconf.common import ReplyError, Shape, local_name, parse_xml
from collectors.netconf.ietf import FILTERS as IETF_FILTERS
from collectors.netconf.ietf import NS_IETF_IF
from collectors.netconf.ietf import SHAPES as IETF_SHAPES
from collectors.netconf.iosxr import FILTERS as XR_FILTERS
from collectors.netconf.iosxr import SHAPES as XR_SHAPES
from collectors.netconf.junos import JUNOS_RPCS, NS_JUNOS
from collectors.netconf.junos import SHAPES as JUNOS_SHAPES
from collectors.netconf.openconfig import FILTERS as OC_FILTERS
from collectors.netconf.openconfig import NS_OC_IF, NS_OC_LLDP, NS_OC_NI, NS_OC_SYS
from collectors.netconf.openconfig import SHAPES as OC_SHAPES
from collectors.netconf.sros import FILTERS as SROS_FILTERS
from collectors.netconf.sros import SHAPES as SROS_SHAPES
from collectors.tables import Tables

log = logging.getLogger("collectors.netconf")

# In the order the shapes were always tried: vendor trees before the standard models.
SHAPES: list[Shape] = [
    *JUNOS_SHAPES, *XR_SHAPES, *SROS_SHAPES, *OC_SHAPES, *IETF_SHAPES]
FILTERS: dict[str, str] = {**OC_FILTERS, **IETF_FILTERS, **XR_FILTERS, **SROS_FILTERS}


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
        raise ReplyError(f"no known NETCONF/XML shape in a <{local_name(root.tag)}> reply "
                         "(known: OpenConfig, IETF, Junos RPCs, IOS-XR oper, SR OS state)")
    return tables


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
