"""From the latest snapshot of every switch to ports, candidate attachments and addresses.

Pure and synchronous: ``build_view`` reads snapshots and returns a ``View``; it does
no I/O and keeps no state, so the result depends only on the set of snapshots, not
on the order in which the switches were polled.

A MAC is learned on every port on its path, so most of the work is deciding which
ports are *infrastructure*. Evidence, strongest first:

1. an LLDP/CDP neighbour that is a polled switch (matched by name, chassis MAC or
   management address) -- the port only carries transit traffic: nothing attaches there;
2. the port learns a polled switch's own MAC (base bridge address, an interface
   MAC, the MAC behind its management IP in ARP) -- transit as well;
3. an LLDP/CDP neighbour that is a bridge or router we do not poll -- devices seen only
   there sit behind an edge switch that is not polled;
4. the port is a LAG or a LAG member (members are folded into their aggregate);
5. the configuration lists it in the switch's ``uplinks``;
6. weakest: it learns more MACs than ``uplink_mac_threshold``.

LAGs are ieee8023adLag interfaces, members named by dot3adAggPortTable, and Cisco's
propVirtual ``Port-channelN``/``PoN``. A forwarding entry with no physical port (bridge
port 0 or one without an ifIndex, or a port that is a VLAN interface, as on a Juniper
SRX) never places a device on an access port: it is the weakest candidate, flagged
"port unknown".

An LLDP neighbour that says it is a telephone, a station or a WLAN access point does
not make a port infrastructure: the devices behind an IP phone stay on the phone's
port (a known failure of Netdisco and NAV).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from collectors.facts import Interface, LldpNeighbor, Snapshot
from collectors.provenance import tolerant_tables
from sensor.correlate.macs import IGNORED_STATUS, SWITCH_ID_PREFIX, not_a_device, switch_identity

IF_TYPE_LAG = 161  # ieee8023adLag
IF_TYPE_PROP_VIRTUAL = 53  # Cisco IOS and NX-OS report their port-channels as propVirtual, not ieee8023adLag
_CISCO_LAG_NAME = re.compile(r"^(port-channel|po)\s*\d+$", re.IGNORECASE)
# A bridge port mapped to a VLAN interface (Juniper SRX: vlan.2) says which VLAN, not where.
VLAN_IF_TYPES = frozenset({135, 136})  # l2vlan, l3ipvlan
ENDPOINT_CAPS = frozenset({"telephone", "station", "wlan-ap", "docsis"})
INFRA_CAPS = frozenset({"bridge", "router", "repeater", "c-vlan", "s-vlan", "tpmr"})

# Candidate tiers: an access port always beats an infrastructure port.
TIER_ACCESS = 2
TIER_BEHIND = 1


@dataclass(frozen=True)
class Settings:
    """What the correlator needs from the configuration."""

    uplinks: Mapping[str, frozenset[str]] = field(default_factory=dict)  # switch -> configured port names
    switch_hosts: Mapping[str, str] = field(default_factory=dict)  # switch -> management address
    uplink_mac_threshold: int = 32


@dataclass(frozen=True, slots=True)
class PortRole:
    switch: str
    ifindex: int | None
    name: str
    infra: bool
    reasons: tuple[str, ...]
    faces_polled: str | None  # the polled switch this port leads to: transit only
    behind_unpolled: bool  # an unpolled switch/router (or many MACs) hangs off this port
    mac_count: int
    phone: str | None  # the LLDP telephone on this (access) port
    lag_only: bool = False
    port_unknown: bool = False  # no physical port: a bridge port without an ifIndex, or a VLAN interface
    access_point: str | None = None  # the LLDP/CDP wireless access point on this (access) port

    @property
    def role(self) -> str:
        """uplink, phone, access-point, access or unknown: what the port is for, in one word."""
        if self.infra:
            return "uplink"
        if self.port_unknown:
            return "unknown"
        if self.phone is not None:
            return "phone"
        if self.access_point is not None:
            return "access-point"
        return "access" if self.mac_count else "unknown"

    @property
    def evidence(self) -> tuple[str, ...]:
        """Why the port has its role."""
        if self.reasons:
            return self.reasons
        if self.phone is not None:
            return (f"LLDP telephone {self.phone} (end devices behind it attach here)",)
        if self.access_point is not None:
            return (f"wireless access point {self.access_point}",)
        return (f"learns {self.mac_count} end-device MAC(s), no switch or router behind it",) if self.mac_count else ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """One place where a MAC could be attached."""

    switch: str
    ifindex: int | None
    port: str
    vlan: int | None
    tier: int
    confidence: float
    evidence: tuple[str, ...]
    flags: tuple[str, ...]
    depth: int
    mac_count: int

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.switch, self.ifindex)

    def rank(self) -> tuple[int, float, int, int, str, int]:
        """Smaller is better."""
        return (-self.tier, -self.confidence, -self.depth, self.mac_count, self.switch, self.ifindex or 0)


@dataclass(frozen=True, slots=True)
class IpSeen:
    ip: str
    router: str
    taken_at: float


@dataclass
class View:
    ports: dict[tuple[str, int | None], PortRole]
    candidates: dict[str, list[Candidate]]  # mac -> best first; only attachable ports
    observed: dict[str, set[str]]  # switch -> MACs it learned on attachable ports
    ips: dict[str, list[IpSeen]]  # mac -> addresses (each IP at its freshest MAC only)
    neighbours: dict[str, LldpNeighbor]  # mac -> the LLDP/CDP neighbour that is this device
    own_macs: frozenset[str]
    polled: frozenset[str]
    depth: dict[str, int]
    # polled switch -> the LLDP chassis id its polled neighbours see for it (``switch_identity``)
    seen_as: dict[str, str] = field(default_factory=dict)


def _norm_name(name: str) -> str:
    return name.strip().lower().split(".")[0]


def fdb_ok(snap: Snapshot) -> bool:
    """Whether the snapshot's forwarding table is complete (an empty table then means empty).

    Decided on the collectors' typed status: an incomplete forwarding table (a timeout, one
    VLAN context of many, a walk cut short) never makes a device disappear.
    """
    return snap.complete("fdb")


def is_lag(iface: Interface) -> bool:
    return iface.if_type == IF_TYPE_LAG or (
        iface.if_type == IF_TYPE_PROP_VIRTUAL and bool(_CISCO_LAG_NAME.match(iface.name or iface.descr)))


def port_name(iface: Interface | None, ifindex: int | None) -> str:
    if iface is not None:
        return iface.name or iface.descr or f"ifIndex {iface.ifindex}"
    return f"ifIndex {ifindex}" if ifindex is not None else "unknown port"


class _Identity:
    """How to recognise a polled switch in an LLDP neighbour or a forwarding entry."""

    def __init__(self, snapshots: Mapping[str, Snapshot], settings: Settings) -> None:
        self.names: dict[str, str] = {}
        self.macs: dict[str, str] = {}
        self.addrs: dict[str, str] = {}
        for name, host in settings.switch_hosts.items():
            self.names[_norm_name(name)] = name
            self.addrs[host] = name
        # sysName -> the polled switches that carry it. A sysName two switches share (a factory
        # default, an anonymised "<private>") names neither: matching it would make an unpolled
        # neighbour of that name a polled one, and its port transit, depending on which was polled.
        sys_names: dict[str, set[str]] = defaultdict(set)
        for name in sorted(snapshots):
            snap = snapshots[name]
            self.names[_norm_name(name)] = name
            if snap.system is not None:
                if snap.system.sys_name:
                    sys_names[_norm_name(snap.system.sys_name)].add(name)
                if snap.system.base_mac:
                    self.macs[snap.system.base_mac] = name
            for iface in snap.interfaces:
                if iface.phys_address and not_a_device(iface.phys_address) is None:
                    self.macs.setdefault(iface.phys_address, name)
            for e in snap.fdb:
                if e.status in ("self", "mgmt"):
                    self.macs.setdefault(e.mac, name)
        for key, owners in sys_names.items():
            if len(owners) == 1:
                self.names[key] = next(iter(owners))
        for name in sorted(snapshots):
            for a in snapshots[name].arp:
                owner = self.addrs.get(a.ip)
                if owner is not None:
                    self.macs.setdefault(a.mac, owner)

    def switch_of(self, n: LldpNeighbor) -> str | None:
        if n.sys_name and _norm_name(n.sys_name) in self.names:
            return self.names[_norm_name(n.sys_name)]
        if n.chassis_id and n.chassis_id.lower() in self.macs:
            return self.macs[n.chassis_id.lower()]
        if n.mgmt_ip and n.mgmt_ip in self.addrs:
            return self.addrs[n.mgmt_ip]
        return None


def neighbour_kind(n: LldpNeighbor) -> str:
    """"infra" for a bridge or router, "endpoint" for phones, stations, APs and the silent."""
    caps = {c.lower() for c in n.capabilities}
    if caps & ENDPOINT_CAPS:
        return "endpoint"
    if caps & INFRA_CAPS:
        return "infra"
    return "endpoint"


def _switch_depths(links: Iterable[tuple[str, str]], routers: Iterable[str], switches: Iterable[str]) -> dict[str, int]:
    """Hops from the nearest router (a switch with an ARP table) over links between polled switches."""
    adj: dict[str, set[str]] = defaultdict(set)
    for a, b in links:
        if a != b:
            adj[a].add(b)
            adj[b].add(a)
    depth = {r: 0 for r in sorted(routers)}
    frontier = list(depth)
    while frontier:
        nxt = []
        for s in frontier:
            for t in sorted(adj[s]):
                if t not in depth:
                    depth[t] = depth[s] + 1
                    nxt.append(t)
        frontier = nxt
    for s in switches:
        depth.setdefault(s, 0)
    return depth


def build_view(snapshots: Mapping[str, Snapshot], settings: Settings) -> View:
    """The current picture from the latest snapshot of every switch."""
    ident = _Identity(snapshots, settings)
    own = frozenset(ident.macs)
    polled = frozenset(snapshots) | frozenset(settings.switch_hosts)
    ports: dict[tuple[str, int | None], PortRole] = {}
    links: list[tuple[str, str]] = []
    routers: list[str] = []
    # (switch, port key) -> {mac: vlan}
    per_port: dict[str, dict[int | None, dict[str, int | None]]] = {}
    neighbours: dict[str, LldpNeighbor] = {}
    seen_as: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    for name in sorted(snapshots):
        snap = snapshots[name]
        ifaces = {i.ifindex: i for i in snap.interfaces}
        lag_of = {i.ifindex: i.lag_ifindex for i in snap.interfaces if i.lag_ifindex is not None}
        lags = {i.ifindex for i in snap.interfaces if is_lag(i)} | set(lag_of.values())
        if any(a.mac not in own for a in snap.arp):
            routers.append(name)

        def fold(ifindex: int | None, lag_of: dict[int, int] = lag_of) -> int | None:
            return lag_of.get(ifindex, ifindex) if ifindex is not None else None

        macs_on: dict[int | None, dict[str, int | None]] = defaultdict(dict)
        transit_to: dict[int | None, str] = {}
        for e in snap.fdb:
            if e.status in IGNORED_STATUS:
                continue
            p = fold(e.ifindex)
            owner = ident.macs.get(e.mac)
            if owner is not None:
                if owner != name:
                    transit_to.setdefault(p, owner)
                continue
            if not_a_device(e.mac) is not None:
                continue
            macs_on[p][e.mac] = e.vlan
        per_port[name] = macs_on

        lldp_on: dict[int | None, list[LldpNeighbor]] = defaultdict(list)
        for n in snap.lldp:
            lldp_on[fold(n.ifindex)].append(n)

        uplinks = settings.uplinks.get(name, frozenset())
        for p in set(macs_on) | set(lldp_on) | set(transit_to) | lags:
            iface = ifaces.get(p) if p is not None else None
            pname = port_name(iface, p)
            reasons: list[str] = []
            faces: str | None = None
            behind = False
            phone: str | None = None
            ap: str | None = None
            for n in lldp_on.get(p, ()):
                peer = ident.switch_of(n)
                label = n.sys_name or n.chassis_id or "?"
                caps = ", ".join(n.capabilities) or "no capabilities"
                if peer is not None and peer != name:
                    faces = faces or peer
                    reasons.append(f"{n.protocol.upper()} neighbour {label} is the polled switch {peer}")
                    links.append((name, peer))
                    # CDP's device ID is a name the switch chose, not its chassis: LLDP only.
                    if n.protocol == "lldp" and (sid := switch_identity(n.chassis_id)) is not None:
                        seen_as[peer][sid] += 1
                elif neighbour_kind(n) == "infra":
                    behind = True
                    reasons.append(f"{n.protocol.upper()} neighbour {label} ({caps}) is a switch or router not polled")
                else:
                    caps_lower = {c.lower() for c in n.capabilities}
                    if "telephone" in caps_lower:
                        phone = label
                    elif "wlan-ap" in caps_lower:
                        ap = label
                    if n.chassis_id:
                        neighbours.setdefault(n.chassis_id.lower(), n)
            if p in transit_to:
                faces = faces or transit_to[p]
                reasons.append(f"learns the MAC of the polled switch {transit_to[p]}")
                links.append((name, transit_to[p]))
            unknown = p is None or (iface is not None and iface.if_type in VLAN_IF_TYPES)
            if unknown:
                reasons.append(f"{pname} is a VLAN interface, not a physical port" if p is not None
                               else "the forwarding table gives no physical port (bridge port without an ifIndex)")
            lag_only = False
            if p in lags:
                members = sorted(i for i, agg in lag_of.items() if agg == p)
                names = ", ".join(port_name(ifaces.get(m), m) for m in members)
                reasons.append(f"is a link aggregate{f' of {names}' if names else ''}")
                lag_only = not reasons[:-1]
            if pname in uplinks or (iface is not None and (iface.descr in uplinks or iface.alias in uplinks)) \
                    or (p is not None and str(p) in uplinks):
                reasons.append("listed in the configuration's uplinks")
                lag_only = False
            count = len(macs_on.get(p, ()))
            if count > settings.uplink_mac_threshold and phone is None and not reasons:
                behind = True
                limit = settings.uplink_mac_threshold
                reasons.append(f"learns {count} MACs (more than uplink_mac_threshold = {limit})")
            ports[(name, p)] = PortRole(
                switch=name, ifindex=p, name=pname, infra=bool(reasons), reasons=tuple(reasons),
                faces_polled=faces, behind_unpolled=behind, mac_count=count, phone=phone, lag_only=lag_only,
                port_unknown=unknown, access_point=ap,
            )

    depth = _switch_depths(links, routers, snapshots)
    candidates: dict[str, list[Candidate]] = defaultdict(list)
    observed: dict[str, set[str]] = {}
    for name in sorted(per_port):
        seen: set[str] = set()
        d = depth.get(name, 0)
        tolerant = name in snapshots and _fdb_tolerant(snapshots[name])
        for p, macs in per_port[name].items():
            role = ports[(name, p)]
            if role.faces_polled is not None:
                continue  # transit between polled switches: never an attachment
            for mac, vlan in macs.items():
                seen.add(mac)
                c = _candidate(role, mac, vlan, d, neighbours.get(mac))
                if tolerant:
                    c = _less_sure(c)
                candidates[mac].append(c)
        observed[name] = seen
    for lst in candidates.values():
        if len(lst) > 1:
            lst.sort(key=Candidate.rank)

    ips = _addresses(snapshots, own)
    return View(ports=ports, candidates=dict(candidates), observed=observed, ips=ips, neighbours=neighbours,
                own_macs=own, polled=polled, depth=depth,
                seen_as={sw: _one_id(ids) for sw, ids in seen_as.items()})


def _one_id(ids: Mapping[str, int]) -> str:
    """The chassis id most neighbours see (a MAC before any other), the same whatever the polling order."""
    return min(ids, key=lambda i: (i.startswith(SWITCH_ID_PREFIX), -ids[i], i))


def _candidate(role: PortRole, mac: str, vlan: int | None, depth: int, self_lldp: LldpNeighbor | None) -> Candidate:
    where = f"{role.switch} {role.name}"
    ev: tuple[str, ...]
    flags: tuple[str, ...]
    if not role.infra:
        if self_lldp is not None and self_lldp.switch == role.switch and self_lldp.ifindex == role.ifindex:
            conf, ev = 0.98, (f"learned on access port {where}", "the LLDP neighbour on this port is this device")
        elif role.phone is not None:
            conf, ev = 0.9, (f"learned on access port {where}", f"behind the IP phone {role.phone} on this port")
        elif role.mac_count <= 1:
            conf, ev = 0.95, (f"the only MAC learned on access port {where}",)
        elif role.mac_count <= 4:
            conf, ev = 0.85, (f"learned on access port {where} with {role.mac_count} MACs",)
        else:
            conf, ev = 0.7, (f"learned on access port {where} with {role.mac_count} MACs",)
        return Candidate(role.switch, role.ifindex, role.name, vlan, TIER_ACCESS, conf, ev, (), depth,
                         role.mac_count)
    why = "; ".join(role.reasons)
    if role.port_unknown:
        conf, flags = 0.1, ("port unknown",)
        ev = (f"learned on {role.switch} without a physical port ({why})",)
    elif role.behind_unpolled:
        conf, flags = 0.3, ("edge switch not polled",)
        ev = (f"seen only on infrastructure ports; deepest is {where} ({why})",)
    elif role.lag_only:
        conf, flags = 0.4, ("seen only on a link aggregate",)
        ev = (f"seen only on infrastructure ports; deepest is {where} ({why})",)
    else:
        conf, flags = 0.2, ("edge switch not polled",)
        ev = (f"seen only on infrastructure ports; deepest is {where} ({why})",)
    return Candidate(role.switch, role.ifindex, role.name, vlan, TIER_BEHIND, conf, ev, flags, depth, role.mac_count)


TOLERANT_FACTOR = 0.9


def _fdb_tolerant(snap: Snapshot) -> bool:
    """Whether the forwarding table in use came from a CLI output the tolerant parser read."""
    method = snap.table_methods.get("fdb", snap.method)
    return method == "cli" and "fdb" in tolerant_tables(snap.notes)


def _less_sure(c: Candidate) -> Candidate:
    """A MAC table the CLI's templates did not match was read by column headers and value forms:
    the attachment says so and is a little less sure (issue 13)."""
    return Candidate(c.switch, c.ifindex, c.port, c.vlan, c.tier, round(c.confidence * TOLERANT_FACTOR, 3),
                     (*c.evidence, f"{c.switch}'s MAC table was read by the tolerant parser (an output its "
                      "templates do not match): lower confidence"), c.flags, c.depth, c.mac_count)


def _addresses(snapshots: Mapping[str, Snapshot], own: frozenset[str]) -> dict[str, list[IpSeen]]:
    """MAC -> IPs from every router's ARP and neighbour table; an IP belongs to its freshest MAC only."""
    owner: dict[str, tuple[float, str, str]] = {}  # ip -> (taken_at, router, mac)
    for name in sorted(snapshots):
        snap = snapshots[name]
        for a in snap.arp:
            if a.mac in own or not_a_device(a.mac) is not None:
                continue
            cur = owner.get(a.ip)
            cand = (snap.taken_at, name, a.mac)
            if cur is None or (cand[0], cand[2]) > (cur[0], cur[2]):
                owner[a.ip] = cand
    out: dict[str, list[IpSeen]] = defaultdict(list)
    for ip in sorted(owner):
        at, router, mac = owner[ip]
        out[mac].append(IpSeen(ip, router, at))
    return dict(out)
