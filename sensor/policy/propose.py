"""From the observed matrix to a proposed policy, keeping every decision already made. Pure.

Each conversation in the matrix is placed: the zone of its client (who opened it) and
of its server. Only conversations that touch a protected zone (the medical ones by
default) are the policy's business; the rest is outside its scope. Conversations are
grouped by (client zone, server zone, protocol, port), and each group becomes one
rule whose ends are aggregated only as far as the evidence supports:

- an end is its zone when every device of that zone was seen doing it (at least two),
  or when more than ``max_hosts`` addresses were; otherwise the addresses themselves;
- an end in ``external`` is never aggregated to the zone: that would be "anywhere";
  more than ``max_hosts`` external addresses makes the rule one for review;
- a group seen fewer than ``min_observations`` times (windows x devices) is rare: it is
  listed for review (``kind = "review"``), not proposed for allowing.

A rule's id is its content ("zone:medication_delivery>host:10.2.0.9/32:tcp/2575"), so a
re-proposal finds the decision made on it; rules no longer observed are kept with
their decision and marked stale after ``stale_after``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from sensor.config import PolicySection
from sensor.policy.apps import CLINICAL_PORTS, PROTO_NAMES, application
from sensor.policy.document import Evidence, Header, PolicyDoc, Rule, Zone, rules_by_id
from sensor.policy.matrix import Entry
from sensor.policy.zones import EXTERNAL, Placement, Zoning


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class DeviceInfo:
    mac: str
    ip: str
    device_class: str | None
    medical: bool
    switch: str | None = None
    port: str | None = None


def inventory(records: Iterable[Mapping[str, Any]]) -> dict[str, DeviceInfo]:
    """Address -> device, from device records (the store's retained ``devices/`` messages)."""
    out: dict[str, DeviceInfo] = {}
    for r in records:
        cls = r.get("classification") or {}
        att = r.get("attachment") or {}
        for i in r.get("ips") or ():
            ip = i.get("ip") if isinstance(i, dict) else i
            if isinstance(ip, str):
                out[ip] = DeviceInfo(mac=str(r.get("mac")), ip=ip, device_class=cls.get("device_class"),
                                     medical=bool(cls.get("medical")), switch=att.get("switch"),
                                     port=att.get("port"))
    return out


@dataclass
class Placer:
    """Places addresses with the zoning and the inventory, once each."""

    zoning: Zoning
    devices: Mapping[str, DeviceInfo]
    cache: dict[str, Placement] = field(default_factory=dict)

    def __call__(self, ip: str, mac: str | None = None) -> Placement:
        p = self.cache.get(ip)
        if p is None:
            d = self.devices.get(ip)
            if d is not None:
                p = self.zoning.place(ip=ip, mac=d.mac, device_class=d.device_class, medical=d.medical,
                                      switch=d.switch, port=d.port)
            else:
                p = self.zoning.place(ip=ip, mac=mac)
            self.cache[ip] = p
        return p


def served_servers(entries: Iterable[Entry], devices: Mapping[str, DeviceInfo]) -> dict[str, str]:
    """Addresses the flows show serving a clinical application to medical devices, and why."""
    clients: dict[tuple[str, str], set[str]] = {}
    for e in entries:
        d = devices.get(e.client)
        if e.port in CLINICAL_PORTS and d is not None and d.medical:
            app = application(e.proto, e.port) or f"port {e.port}"
            clients.setdefault((e.server, app), set()).add(e.client)
    out: dict[str, str] = {}
    for (server, app), cs in sorted(clients.items()):
        out.setdefault(server, f"the flows show it serving {app} to {len(cs)} medical device(s)")
    return out


def _net_key(text: str) -> tuple[int, int, int]:
    n = ipaddress.ip_network(text, strict=False)
    return n.version, int(n.network_address), n.prefixlen


def _host(ip: str) -> str:
    a = ipaddress.ip_address(ip)
    return f"host:{ip}/{a.max_prefixlen}"


@dataclass
class _Group:
    clients: set[str] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)
    client_devs: set[str] = field(default_factory=set)
    server_devs: set[str] = field(default_factory=set)
    bytes: int = 0
    flows: int = 0
    observations: int = 0
    first: float = float("inf")
    last: float = 0.0


def _end(zone: str, addrs: set[str], members: set[str], max_hosts: int) -> tuple[list[str], str]:
    if zone != EXTERNAL and ((len(members) >= 2 and addrs >= members) or len(addrs) > max_hosts):
        why = (f"every device of zone {zone} ({len(members)})" if addrs >= members
               else f"{len(addrs)} addresses in zone {zone}, more than {max_hosts}")
        return [f"zone:{zone}"], why
    return [_host(a) for a in sorted(addrs, key=_net_key)], f"{len(addrs)} address(es)"


@dataclass
class Proposal:
    doc: PolicyDoc
    new: list[str]  # rule ids new in this proposal
    stale: list[str]
    out_of_scope: int  # conversations touching no protected zone


def propose(entries: list[Entry], placer: Placer, section: PolicySection, *, now: float,
            previous: Iterable[PolicyDoc] = (), site: str = "", sensor: str = "") -> Proposal:
    """The proposed policy from the observed matrix, with every earlier decision kept."""
    zoning = placer.zoning
    protected = zoning.protected
    members: dict[str, set[str]] = {}
    for ip in placer.devices:
        members.setdefault(placer(ip).zone, set()).add(ip)
    groups: dict[tuple[str, str, int, int], _Group] = {}
    out_of_scope = 0
    for e in entries:
        cz = placer(e.client, e.client_device).zone
        sz = placer(e.server, e.server_device).zone
        for ip, z in ((e.client, cz), (e.server, sz)):
            if z != EXTERNAL:
                members.setdefault(z, set()).add(ip)
        if cz not in protected and sz not in protected:
            out_of_scope += 1
            continue
        g = groups.setdefault((cz, sz, e.proto, e.port), _Group())
        g.clients.add(e.client)
        g.servers.add(e.server)
        g.client_devs.add(e.client_device or e.client)
        g.server_devs.add(e.server_device or e.server)
        g.bytes += e.bytes
        g.flows += e.flows
        g.observations += e.windows
        g.first = min(g.first, e.first_seen)
        g.last = max(g.last, e.last_seen)
    rules: dict[str, Rule] = {}
    for (cz, sz, proto, port), g in groups.items():
        src, src_why = _end(cz, g.clients, members.get(cz, set()), section.max_hosts)
        dst, dst_why = _end(sz, g.servers, members.get(sz, set()), section.max_hosts)
        pname = PROTO_NAMES.get(proto, "any")
        if pname not in ("tcp", "udp", "sctp", "icmp", "ipv6-icmp"):
            pname = "any"
        rid = f"{','.join(src)}>{','.join(dst)}:{pname}" + (f"/{port}" if port else "")
        kind = "allow"
        why = f"from {src_why} of {cz} to {dst_why} of {sz}"
        if g.observations < section.min_observations:
            kind, why = "review", f"rare: seen {g.observations} time(s), fewer than {section.min_observations}; " + why
        elif (cz == EXTERNAL and len(g.clients) > section.max_hosts) or (
                sz == EXTERNAL and len(g.servers) > section.max_hosts):
            kind, why = "review", f"broad: more than {section.max_hosts} external addresses; " + why
        examples = sorted(g.client_devs if cz in protected else g.server_devs)[:5]
        ev = Evidence(devices=len(g.client_devs if cz in protected else g.server_devs), examples=examples,
                      peers=len(g.servers if cz in protected else g.clients), bytes=g.bytes, flows=g.flows,
                      observations=g.observations, first_seen=iso(g.first), last_seen=iso(g.last))
        rules[rid] = Rule(id=rid, kind=kind, source=src, destination=dst, proto=pname,  # type: ignore[arg-type]
                          port=port if pname in ("tcp", "udp", "sctp") else 0,
                          application=application(proto, port) or "", why=why, evidence=ev)
    prev_docs = list(previous)
    prior = rules_by_id(prev_docs)
    new, stale = [], []
    merged: list[Rule] = []
    for rid, r in rules.items():
        p = prior.get(rid)
        if p is None:
            new.append(rid)
        else:
            r = msgspec.structs.replace(r, state=p.state, by=p.by, at=p.at, ticket=p.ticket, comment=p.comment)
        last = parse_iso(r.evidence.last_seen) or now
        if now - last > section.stale_after:
            r = msgspec.structs.replace(r, stale=True)
            stale.append(rid)
        merged.append(r)
    for rid, p in prior.items():
        if rid in rules:
            continue
        seen = parse_iso(p.evidence.last_seen)
        is_stale = seen is None or now - seen > section.stale_after
        merged.append(msgspec.structs.replace(p, stale=is_stale))
        if is_stale:
            stale.append(rid)
    merged.sort(key=lambda r: (r.kind != "allow", r.source, r.destination, r.proto, r.port))
    zones = []
    for zd in zoning.zones:
        addrs = {_host(ip)[5:] for ip in members.get(zd.name, set())} if zd.name != EXTERNAL else set()
        addrs |= {str(n) for n in zd.subnets}
        zones.append(Zone(name=zd.name, label=zd.label, protected=zd.protected,
                          devices=len({placer.devices[ip].mac for ip in members.get(zd.name, ())
                                       if ip in placer.devices}),  # a device, not each of its addresses
                          classes=sorted(zd.classes),
                          addresses=sorted(addrs, key=_net_key)))
    version = max((d.policy.version for d in prev_docs), default=0) + 1
    header = Header(version=version, site=site, sensor=sensor, generated_at=iso(now),
                    window_days=round(float(section.window) / 86400, 2),
                    note="proposed by `sensor policy propose` from the observed flows")
    return Proposal(doc=PolicyDoc(policy=header, zone=zones, rule=merged), new=new, stale=stale,
                    out_of_scope=out_of_scope)
