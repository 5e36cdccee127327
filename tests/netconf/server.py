"""A NETCONF-over-SSH server for tests (the PyPI ``netconf`` package's server, paramiko 3.5.x).

It serves one switch's state in one of three shapes, decided by ``family``:

- ``openconfig``: openconfig-interfaces (with if-index, openconfig-if-ip neighbours),
  openconfig-network-instance FDB mac-table, openconfig-lldp, openconfig-system;
- ``ietf``: ietf-interfaces (NMDA, 2018-02-20) with ietf-ip neighbours, plus the OpenConfig
  FDB and LLDP models (IETF has none), as several vendors do;
- ``junos``: the Junos RPCs get-interface-information (terse), get-ethernet-switching-table-
  information (ELS shape), get-arp-table-information and get-lldp-neighbors-information.

The hello announces the models of the family. ``<get>`` honours the subtree filter through
the netconf package's filter code, and every filter received is recorded (``gets``), so
tests can check that the collector asks for subtrees, not the whole datastore. The state
is a function called per request: :func:`linux_state` reads a lab namespace's kernel
(``ip -j -d link``, ``bridge -j fdb``, ``ip -j neigh``, ``lldpcli -f json0``) at that moment.

The server listens on 127.0.0.1 only (the package's own server binds every address).
Key authentication: the one public key given.
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from lxml import etree
from netconf import NSMAP, nsmap_update, server, util
from sshutil.server import SSHServerSocket

from collectors.cli.parse import parse
from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor

OC_IF = "http://openconfig.net/yang/interfaces"
OC_IP = "http://openconfig.net/yang/interfaces/ip"
OC_ETH = "http://openconfig.net/yang/interfaces/ethernet"
OC_NI = "http://openconfig.net/yang/network-instance"
OC_LLDP = "http://openconfig.net/yang/lldp"
OC_SYS = "http://openconfig.net/yang/system"
IETF_IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IETF_IP = "urn:ietf:params:xml:ns:yang:ietf-ip"
JUNOS = "http://xml.juniper.net/junos/23.4R1/junos"

CAPABILITIES = {
    "openconfig": [f"{OC_IF}?module=openconfig-interfaces&revision=2023-02-06",
                   f"{OC_IP}?module=openconfig-if-ip&revision=2023-02-06",
                   f"{OC_ETH}?module=openconfig-if-ethernet&revision=2023-02-06",
                   f"{OC_NI}?module=openconfig-network-instance&revision=2023-04-25",
                   f"{OC_LLDP}?module=openconfig-lldp&revision=2023-03-22",
                   f"{OC_SYS}?module=openconfig-system&revision=2023-06-16"],
    "ietf": [f"{IETF_IF}?module=ietf-interfaces&revision=2018-02-20",
             f"{IETF_IP}?module=ietf-ip&revision=2018-02-22",
             f"{OC_NI}?module=openconfig-network-instance&revision=2023-04-25",
             f"{OC_LLDP}?module=openconfig-lldp&revision=2023-03-22"],
    "junos": ["http://xml.juniper.net/netconf/junos/1.0", "http://xml.juniper.net/dmi/system/1.0"],
}
# The package's subtree filter turns a filter into XPath through its global prefix map.
nsmap_update({"oc-if": OC_IF, "oc-ip": OC_IP, "oc-eth": OC_ETH, "oc-ni": OC_NI, "oc-lldp": OC_LLDP,
              "oc-sys": OC_SYS, "if": IETF_IF, "ip": IETF_IP})
_OC_CAPS = {"bridge": "MAC_BRIDGE", "router": "ROUTER", "telephone": "TELEPHONE", "station": "STATION_ONLY",
            "wlan-ap": "WLAN_ACCESS_POINT", "repeater": "REPEATER", "other": "OTHER", "docsis": "DOCSIS_CABLE_DEVICE"}


@dataclass
class State:
    """One switch's facts, as a device would hold them (ports by name)."""

    hostname: str
    interfaces: list[Interface] = field(default_factory=list)
    fdb: list[FdbEntry] = field(default_factory=list)
    arp: list[ArpEntry] = field(default_factory=list)
    lldp: list[LldpNeighbor] = field(default_factory=list)

    def port(self, ifindex: int | None) -> str:
        return next((i.name for i in self.interfaces if i.ifindex == ifindex), "")


def example_state() -> State:
    """A small access switch: four ports, a pump and a monitor, an uplink to a distribution router."""
    sw = "nc-sw"
    itf = [Interface(switch=sw, ifindex=4, name="ge1", alias="pump bay 3", oper_up=True,
                     phys_address="94:18:82:01:00:01"),
           Interface(switch=sw, ifindex=5, name="ge2", oper_up=True, phys_address="94:18:82:01:00:02"),
           Interface(switch=sw, ifindex=6, name="ge3", oper_up=False, phys_address="94:18:82:01:00:03"),
           Interface(switch=sw, ifindex=9, name="ge24", alias="uplink", oper_up=True,
                     phys_address="94:18:82:01:00:18")]
    fdb = [FdbEntry(switch=sw, ifindex=4, vlan=10, mac="58:42:e4:12:10:21"),
           FdbEntry(switch=sw, ifindex=5, vlan=10, mac="00:09:fb:12:10:22"),
           FdbEntry(switch=sw, ifindex=9, vlan=10, mac="28:99:3a:02:00:00"),
           FdbEntry(switch=sw, ifindex=5, vlan=10, mac="00:09:fb:12:10:99", status="mgmt"),
           FdbEntry(switch=sw, ifindex=None, vlan=10, mac="94:18:82:01:00:00", status="self")]
    arp = [ArpEntry(router=sw, ifindex=9, ip="198.18.0.100", mac="a0:36:9f:00:00:64"),
           ArpEntry(router=sw, ifindex=4, ip="198.18.10.21", mac="58:42:e4:12:10:21")]
    lldp = [LldpNeighbor(switch=sw, ifindex=9, chassis_id="28:99:3a:02:00:00", port_id="ge1",
                         port_descr="downlink", sys_name="dist", sys_desc="Debian lab router",
                         capabilities=("bridge", "router"), mgmt_ip="198.18.0.1")]
    return State("nc-sw", itf, fdb, arp, lldp)


def linux_state(ns: str, lldp_sock: str | None, hostname: str) -> State:
    """A lab switch's state now: the kernel's and lldpd's, read in its namespace."""
    def run(*argv: str) -> str:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=True,
                              timeout=20).stdout

    t = parse("linux", "ip -j -d link show", run("ip", "-j", "-d", "link", "show"), switch=hostname)
    parse("linux", "bridge -j fdb show", run("bridge", "-j", "fdb", "show"), tables=t)
    parse("linux", "ip -j neigh show", run("ip", "-j", "neigh", "show"), tables=t)
    if lldp_sock:
        lldp = subprocess.run(["lldpcli", "-u", lldp_sock, "-f", "json0", "show", "neighbors", "details"],
                              capture_output=True, text=True, check=True, timeout=20).stdout
        parse("linux", "lldpcli -f json0 show neighbors details", lldp, tables=t)
    return State(hostname, list(t.interfaces or []), list(t.fdb or []), list(t.arp or []), list(t.lldp or []))


# --------------------------------------------------------------- rendering
def _sub(parent: etree._Element, tag: str, text: object = None, ns: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}" if ns else tag)
    if text is not None:
        el.text = str(text)
    return el


def _leaves(parent: etree._Element, ns: str | None, **leaves: object) -> None:
    for k, v in leaves.items():
        if v is not None and v != "":
            _sub(parent, k.replace("_", "-"), v, ns)


def openconfig_data(s: State, *, interfaces: bool = True) -> etree._Element:
    data = util.elm("nc:data")
    if interfaces:
        itfs = _sub(data, "interfaces", ns=OC_IF)
        for i in s.interfaces:
            itf = _sub(itfs, "interface", ns=OC_IF)
            _sub(itf, "name", i.name, OC_IF)
            st = _sub(itf, "state", ns=OC_IF)
            _leaves(st, OC_IF, name=i.name, ifindex=i.ifindex, description=i.alias,
                    oper_status="UP" if i.oper_up else "DOWN")
            if i.phys_address:
                eth = _sub(_sub(itf, "ethernet", ns=OC_ETH), "state", ns=OC_ETH)
                _leaves(eth, OC_ETH, mac_address=i.phys_address)
            neigh = [a for a in s.arp if a.ifindex == i.ifindex]
            if neigh:
                sub = _sub(_sub(itf, "subinterfaces", ns=OC_IF), "subinterface", ns=OC_IF)
                _sub(sub, "index", 0, OC_IF)
                for fam in ("ipv4", "ipv6"):
                    rows = [a for a in neigh if (":" in a.ip) == (fam == "ipv6")]
                    if not rows:
                        continue
                    ns_el = _sub(_sub(sub, fam, ns=OC_IP), "neighbors", ns=OC_IP)
                    for a in rows:
                        n = _sub(ns_el, "neighbor", ns=OC_IP)
                        _sub(n, "ip", a.ip, OC_IP)
                        _leaves(_sub(n, "state", ns=OC_IP), OC_IP, ip=a.ip, link_layer_address=a.mac,
                                origin="DYNAMIC")
    ni = _sub(_sub(data, "network-instances", ns=OC_NI), "network-instance", ns=OC_NI)
    _sub(ni, "name", "default", OC_NI)
    entries = _sub(_sub(_sub(ni, "fdb", ns=OC_NI), "mac-table", ns=OC_NI), "entries", ns=OC_NI)
    for f in s.fdb:
        if f.ifindex is None or f.status == "self":
            continue  # the bridge's and the ports' own addresses: not in the mac-table
        e = _sub(entries, "entry", ns=OC_NI)
        _leaves(e, OC_NI, mac_address=f.mac, vlan=f.vlan)
        _leaves(_sub(e, "state", ns=OC_NI), OC_NI, mac_address=f.mac, vlan=f.vlan,
                entry_type="STATIC" if f.status == "mgmt" else "DYNAMIC")
        ref = _sub(_sub(_sub(e, "interface", ns=OC_NI), "interface-ref", ns=OC_NI), "state", ns=OC_NI)
        _leaves(ref, OC_NI, interface=s.port(f.ifindex))
    lldp_itfs = _sub(_sub(data, "lldp", ns=OC_LLDP), "interfaces", ns=OC_LLDP)
    for port in sorted({n.ifindex for n in s.lldp if n.ifindex is not None}):
        itf = _sub(lldp_itfs, "interface", ns=OC_LLDP)
        _sub(itf, "name", s.port(port), OC_LLDP)
        neighbors = _sub(itf, "neighbors", ns=OC_LLDP)
        for k, n in enumerate(x for x in s.lldp if x.ifindex == port):
            ne = _sub(neighbors, "neighbor", ns=OC_LLDP)
            _sub(ne, "id", str(k + 1), OC_LLDP)
            _leaves(_sub(ne, "state", ns=OC_LLDP), OC_LLDP, id=k + 1, chassis_id=n.chassis_id, port_id=n.port_id,
                    port_description=n.port_descr, system_name=n.sys_name, system_description=n.sys_desc,
                    management_address=n.mgmt_ip)
            caps = _sub(ne, "capabilities", ns=OC_LLDP)
            for c in n.capabilities:
                ce = _sub(caps, "capability", ns=OC_LLDP)
                _sub(ce, "name", f"oc-lldp-types:{_OC_CAPS.get(c, 'OTHER')}", OC_LLDP)
                _leaves(_sub(ce, "state", ns=OC_LLDP), OC_LLDP, name=f"oc-lldp-types:{_OC_CAPS.get(c, 'OTHER')}",
                        enabled="true")
    _leaves(_sub(_sub(data, "system", ns=OC_SYS), "state", ns=OC_SYS), OC_SYS, hostname=s.hostname)
    return data


def ietf_data(s: State) -> etree._Element:
    data = openconfig_data(s, interfaces=False)
    itfs = etree.Element(f"{{{IETF_IF}}}interfaces")
    data.insert(0, itfs)
    for i in s.interfaces:
        itf = _sub(itfs, "interface", ns=IETF_IF)
        _leaves(itf, IETF_IF, name=i.name, description=i.alias, oper_status="up" if i.oper_up else "down",
                if_index=i.ifindex, phys_address=i.phys_address)
        for fam in ("ipv4", "ipv6"):
            rows = [a for a in s.arp if a.ifindex == i.ifindex and (":" in a.ip) == (fam == "ipv6")]
            if rows:
                ip = _sub(itf, fam, ns=IETF_IP)
                for a in rows:
                    _leaves(_sub(ip, "neighbor", ns=IETF_IP), IETF_IP, ip=a.ip, link_layer_address=a.mac,
                            origin="dynamic")
    return data


def junos_reply(s: State, rpc: str) -> etree._Element:
    if rpc == "get-interface-information":
        top = etree.Element("interface-information", nsmap={None: f"{JUNOS}-interface"})
        for i in s.interfaces:
            p = _sub(top, "physical-interface")
            _leaves(p, None, name=i.name, admin_status="up", oper_status="up" if i.oper_up else "down",
                    snmp_index=i.ifindex, description=i.alias, current_physical_address=i.phys_address)
        return top
    if rpc == "get-ethernet-switching-table-information":
        top = etree.Element("l2ng-l2ald-rtb-macdb", nsmap={None: f"{JUNOS}-l2-learning"})
        db = _sub(top, "l2ng-l2ald-mac-entry-vlan")
        for f in s.fdb:
            if f.ifindex is None or f.status == "self":
                continue
            e = _sub(db, "l2ng-mac-entry")
            _leaves(e, None, l2ng_l2_mac_vlan_name=f"vlan{f.vlan}", l2ng_l2_mac_address=f.mac,
                    l2ng_l2_mac_flags="S" if f.status == "mgmt" else "D", l2ng_l2_vlan_id=f.vlan,
                    l2ng_l2_mac_logical_interface=s.port(f.ifindex))
        return top
    if rpc == "get-arp-table-information":
        top = etree.Element("arp-table-information", nsmap={None: f"{JUNOS}-arp"})
        for a in s.arp:
            if ":" in a.ip:
                continue
            _leaves(_sub(top, "arp-table-entry"), None, mac_address=a.mac, ip_address=a.ip,
                    interface_name=s.port(a.ifindex))
        return top
    if rpc == "get-lldp-neighbors-information":
        top = etree.Element("lldp-neighbors-information", nsmap={None: f"{JUNOS}-lldp"})
        for n in s.lldp:
            _leaves(_sub(top, "lldp-neighbor-information"), None, lldp_local_interface=s.port(n.ifindex),
                    lldp_remote_chassis_id=n.chassis_id, lldp_remote_port_id=n.port_id,
                    lldp_remote_port_description=n.port_descr, lldp_remote_system_name=n.sys_name,
                    lldp_remote_system_capabilities_enabled=" ".join(c.title() for c in n.capabilities),
                    lldp_remote_management_address=n.mgmt_ip)
            if n.sys_desc:
                d = _sub(top[-1], "lldp-system-description")
                _sub(d, "lldp-remote-system-description", n.sys_desc)
        return top
    raise KeyError(rpc)


# --------------------------------------------------------------- the server
class _Methods:
    def __init__(self, family: str, state: Callable[[], State], log: NetconfServer) -> None:
        self.family, self.state, self.log = family, state, log

    def nc_append_capabilities(self, caps: etree._Element) -> None:
        for c in CAPABILITIES[self.family]:
            util.subelm(caps, "capability").text = c

    def rpc_get(self, session: Any, rpc: etree._Element, filter_or_none: etree._Element | None) -> etree._Element:
        self.log.gets.append(etree.tostring(filter_or_none).decode() if filter_or_none is not None else "")
        if self.family == "junos":
            raise server.ncerror.OperationNotSupportedProtoError(rpc)
        s = self.state()
        data = openconfig_data(s) if self.family == "openconfig" else ietf_data(s)
        return subtree(rpc, data, filter_or_none)

    def __getattr__(self, name: str) -> Any:
        rpc = name.removeprefix("rpc_").replace("_", "-")
        if self.family != "junos" or not name.startswith("rpc_") or rpc not in (
                "get-interface-information", "get-ethernet-switching-table-information",
                "get-arp-table-information", "get-lldp-neighbors-information"):
            raise AttributeError(name)

        def answer(session: Any, rpc_el: etree._Element, *params: Any) -> etree._Element:
            self.log.rpcs.append(rpc)
            return junos_reply(self.state(), rpc)
        return answer


def subtree(rpc: etree._Element, data: etree._Element, flt: etree._Element | None) -> etree._Element:
    """RFC 6241 subtree filtering: the package's XPath translation, plus what it lacks (a top-level
    selection node with no children selects that whole subtree)."""
    if flt is None:
        return data
    out = util.elm("nc:data")
    for top in flt:
        if len(top) == 0:
            out.extend(copy.deepcopy(c) for c in data if util.filter_tag_match(top.tag, c.tag))
            continue
        one = copy.deepcopy(flt)
        for other in list(one):
            if other.tag != top.tag or len(other) == 0:
                one.remove(other)
        out.extend(util.filter_results(rpc, data, one))
    return out


class _KeyAuth(paramiko.ServerInterface):
    def __init__(self, username: str, key: paramiko.PKey) -> None:
        self.username, self.key = username, key

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == self.username and key.asbytes() == self.key.asbytes()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        return name == "netconf"


class NetconfServer(server.NetconfSSHServer):  # type: ignore[misc]
    """``with NetconfServer(family, state_fn, tmp_path) as srv:`` -> srv.port, srv.key_file, srv.known_hosts."""

    def __init__(self, family: str, state: Callable[[], State], directory: Path, *, host: str = "127.0.0.1",
                 username: str = "sensor", port: int = 0) -> None:
        # The package's constructor binds every address; set up the same object, bound to ``host`` only.
        self.gets: list[str] = []
        self.rpcs: list[str] = []
        self.host, self.username = host, username
        directory.mkdir(parents=True, exist_ok=True)
        self.key_file = directory / "netconf-key"
        client_key = paramiko.Ed25519Key.from_private_key_file(_keygen(self.key_file))
        host_key_file = _keygen(directory / "netconf-host-key")
        self.host_key = paramiko.Ed25519Key.from_private_key_file(host_key_file)
        self.server_methods = _Methods(family, state, self)
        self.session_id = 1
        self.session_locks_lock = threading.Lock()
        self.session_locks = {"running": 0, "candidate": 0}
        self.server_ctl = _KeyAuth(username, client_key)
        self.server_socket_class = SSHServerSocket
        self.server_session_class = server.NetconfServerSession
        self.extra_args = None
        self.debug = False
        self.lock = threading.Lock()
        self.sockets: list[Any] = []
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self.ports = {socket.AF_INET: self.port}
        self._listen = sock
        self.close_wsocket, self.close_rsocket = socket.socketpair()
        self.thread = threading.Thread(target=self._accept_socket_thread, args=[sock], daemon=True,
                                       name="netconf-test-server")
        self.thread.start()

    def __del__(self) -> None:  # the package logs an error from its __del__
        pass

    def known_hosts(self, path: Path) -> Path:
        path.write_text(f"[{self.host}]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}\n")
        return path

    def __enter__(self) -> NetconfServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.join()
        self._listen.close()


def _keygen(path: Path) -> str:
    """An Ed25519 key in OpenSSH format (mode 0600), made once."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not path.exists():
        key = Ed25519PrivateKey.generate()
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    path.chmod(0o600)
    return str(path)


def state_json(s: State) -> str:
    """For debugging a test: the state as JSON."""
    import msgspec

    return json.dumps(json.loads(msgspec.json.encode(s.__dict__)), indent=1)


__all__ = ["NSMAP", "NetconfServer", "State", "linux_state"]
