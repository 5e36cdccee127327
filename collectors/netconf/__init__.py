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

Layout: ``common`` (bounded XML parsing and navigation), one pure module per model family
(``openconfig``, ``ietf``, ``junos``, ``iosxr``, ``sros``), ``parse`` (which shapes a reply has,
and what to ask a server), and ``client``, the only module that does I/O.
"""

from __future__ import annotations

from collectors.netconf.client import NetconfTarget, poll, rpc_error_text
from collectors.netconf.common import MAX_REPLY, ReplyError, parse_xml, text_output
from collectors.netconf.junos import JUNOS_RPCS
from collectors.netconf.parse import FILTERS, SHAPES, Plan, parse_reply, plan_for
from collectors.netconf.sros import sros_fdb_text

__all__ = ["FILTERS", "JUNOS_RPCS", "MAX_REPLY", "SHAPES", "NetconfTarget", "Plan", "ReplyError", "parse_reply",
           "parse_xml", "plan_for", "poll", "rpc_error_text", "sros_fdb_text", "text_output"]
