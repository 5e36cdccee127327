"""Is a conversation allowed by the approved policy? Pure, and fast enough for every window.

The check is by address, exactly as a firewall loaded with the export would decide:
a conversation is in scope when its client or server address lies in a protected
zone's addresses; in scope, it is allowed when an approved rule's source holds the
client, its destination holds the server, and protocol and port match. The rules
are indexed by (protocol, port) and every address's zones are computed once, so a
window's check is a few dictionary lookups per conversation.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from sensor.ipnets import Network
from sensor.policy.apps import PROTO_NUMBERS
from sensor.policy.document import PolicyDoc, Rule
from sensor.policy.matrix import Entry

ANY = -1


@dataclass(frozen=True)
class Verdict:
    in_scope: bool
    rule: Rule | None  # the approved rule that allows it
    nearest: Rule | None = None  # when blocked: an approved rule for the same source and service, if any
    client_zone: str | None = None
    server_zone: str | None = None


def _nets(endpoints: list[str], zones: dict[str, list[Network]]) -> tuple[list[Network], frozenset[str]]:
    nets: list[Network] = []
    names: set[str] = set()
    for ep in endpoints:
        kind, _, value = ep.partition(":")
        if kind == "zone":
            names.add(value)
        else:
            nets.append(ipaddress.ip_network(value, strict=False))
    return nets, frozenset(names)


@dataclass
class _Compiled:
    rule: Rule
    src_nets: list[Network]
    src_zones: frozenset[str]
    dst_nets: list[Network]
    dst_zones: frozenset[str]


@dataclass
class Matcher:
    doc: PolicyDoc
    _zone_nets: list[tuple[Network, str]] = field(default_factory=list)
    _zone_hosts: dict[str, set[str]] = field(default_factory=dict)
    _verdicts: dict[tuple[str, str, int, int], Verdict] = field(default_factory=dict)
    _protected: frozenset[str] = frozenset()
    _index: dict[tuple[int, int], list[_Compiled]] = field(default_factory=dict)
    _addr: dict[str, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address | None, frozenset[str]]] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        zones = {z.name: [ipaddress.ip_network(a, strict=False) for a in z.addresses] for z in self.doc.zone}
        # Hosts (the most of a zone's addresses) by exact address; only real prefixes are scanned.
        for name, ns in zones.items():
            for n in ns:
                if n.prefixlen == n.max_prefixlen:
                    self._zone_hosts.setdefault(str(n.network_address), set()).add(name)
                else:
                    self._zone_nets.append((n, name))
        self._protected = frozenset(z.name for z in self.doc.zone if z.protected)
        for r in self.doc.approved():
            sn, sz = _nets(r.source, zones)
            dn, dz = _nets(r.destination, zones)
            proto = PROTO_NUMBERS.get(r.proto, ANY)
            self._index.setdefault((proto, r.port if r.port else ANY), []).append(_Compiled(r, sn, sz, dn, dz))

    def zones_of(self, ip: str) -> frozenset[str]:
        return self._lookup(ip)[1]

    def _lookup(self, ip: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address | None, frozenset[str]]:
        r = self._addr.get(ip)
        if r is None:
            try:
                a: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(ip)
            except ValueError:
                a = None
            found = set(self._zone_hosts.get(str(a), ())) if a is not None else set()
            found.update(n for net, n in self._zone_nets if a is not None and a.version == net.version and a in net)
            names = frozenset(found)
            r = (a, names)
            if len(self._addr) < 1_000_000:
                self._addr[ip] = r
        return r

    @staticmethod
    def _holds(addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None, zones: frozenset[str],
               nets: list[Network], rule_zones: frozenset[str]) -> bool:
        if zones & rule_zones:
            return True
        return addr is not None and any(addr.version == n.version and addr in n for n in nets)

    def check(self, client: str, server: str, proto: int, port: int) -> Verdict:
        # The same conversations come back every window: decide each once per policy.
        key = (client, server, proto, port)
        v = self._verdicts.get(key)
        if v is None:
            v = self._check(client, server, proto, port)
            if len(self._verdicts) >= 1_000_000:
                self._verdicts.clear()
            self._verdicts[key] = v
        return v

    def _check(self, client: str, server: str, proto: int, port: int) -> Verdict:
        ca, cz = self._lookup(client)
        sa, sz = self._lookup(server)
        czn = min(cz) if cz else "external"
        szn = min(sz) if sz else "external"
        if not (cz | sz) & self._protected:
            return Verdict(False, None, client_zone=czn, server_zone=szn)
        nearest = None
        for key in ((proto, port), (proto, ANY), (ANY, ANY)):
            for c in self._index.get(key, ()):
                if self._holds(ca, cz, c.src_nets, c.src_zones):
                    if self._holds(sa, sz, c.dst_nets, c.dst_zones):
                        return Verdict(True, c.rule, client_zone=czn, server_zone=szn)
                    nearest = nearest or c.rule
        return Verdict(True, None, nearest, client_zone=czn, server_zone=szn)


@dataclass
class Blocked:
    client: str
    server: str
    client_device: str | None
    server_device: str | None
    client_zone: str
    server_zone: str
    proto: int
    port: int
    application: str
    observations: int
    flows: int
    bytes: int
    last_seen: float
    nearest: str | None


def simulate(doc: PolicyDoc, entries: list[Entry]) -> tuple[list[Blocked], int, int]:
    """(what the approved policy would block, conversations in scope, conversations allowed)."""
    from sensor.policy.apps import application

    m = Matcher(doc)
    blocked: list[Blocked] = []
    in_scope = allowed = 0
    for e in entries:
        v = m.check(e.client, e.server, e.proto, e.port)
        if not v.in_scope:
            continue
        in_scope += 1
        if v.rule is not None:
            allowed += 1
            continue
        blocked.append(Blocked(e.client, e.server, e.client_device, e.server_device, v.client_zone or "",
                               v.server_zone or "", e.proto, e.port, application(e.proto, e.port) or "",
                               e.windows, e.flows, e.bytes, e.last_seen, v.nearest.id if v.nearest else None))
    blocked.sort(key=lambda b: (-b.observations, b.client, b.server, b.port))
    return blocked, in_scope, allowed
