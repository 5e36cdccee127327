"""The compensating controls around each device, and the risk factors they give. Pure.

From what the sensor knows: the device's zone and segment (the zoning), whether an
approved segmentation policy covers it and whether that policy (its hash) was
exported to an enforcement point, the peers its approved rules allow, what flow
monitoring sees of it (flows in the last day, baseline age, anomalies and policy
violations in the last 30 days) and who owns it (the asset register). The risk score
then counts advisories without a vendor fix against the device, and enforced
segmentation and active monitoring for it (``sensor.classify.risk.control_factors``).
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from sensor.classify.risk import control_factors, criticality_of, level
from sensor.correlate.model import DeviceRecord
from sensor.evidence.model import Controls, Monitoring, Ownership, Segmentation
from sensor.flows.summary import Summary
from sensor.ipnets import Network
from sensor.policy.document import PolicyDoc, Rule
from sensor.policy.exports import ExportRecord
from sensor.policy.zones import Zoning

MAX_PEERS = 12
DAY = 86400.0


def _ts(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


@dataclass
class PolicyInfo:
    """The approved policy as the controls need it: zones' addresses, rules by zone, the last export."""

    doc: PolicyDoc
    digest: str
    export: ExportRecord | None = None

    def __post_init__(self) -> None:
        self.protected = {z.name for z in self.doc.zone if z.protected}
        self.hosts: dict[str, str] = {}
        self.nets: list[tuple[Network, str]] = []
        for z in self.doc.zone:
            for a in z.addresses:
                n = ipaddress.ip_network(a, strict=False)
                if n.num_addresses == 1:
                    self.hosts.setdefault(str(n.network_address), z.name)
                else:
                    self.nets.append((n, z.name))
        self.nets.sort(key=lambda t: -t[0].prefixlen)
        self.approved = self.doc.approved()
        self.by_zone: dict[str, list[Rule]] = {}
        for r in self.approved:
            for ep in {*r.source, *r.destination}:
                kind, _, value = ep.partition(":")
                if kind == "zone":
                    self.by_zone.setdefault(value, []).append(r)
        self._peers: dict[str, tuple[tuple[str, ...], int, int]] = {}

    def zone_of(self, ip: str) -> str | None:
        """The policy zone whose addresses hold ``ip`` (what a firewall loaded with the export decides)."""
        z = self.hosts.get(ip)
        if z is not None:
            return z
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for n, name in self.nets:
            if n.version == addr.version and addr in n:
                return name
        return None

    def peers(self, zone: str) -> tuple[tuple[str, ...], int, int]:
        """(allowed peers as text, rules not listed, rules) for a zone's approved rules; cached per zone."""
        hit = self._peers.get(zone)
        if hit is None:
            key = f"zone:{zone}"
            texts = []
            rules = self.by_zone.get(zone, [])
            for r in rules:
                svc = f"{r.proto}/{r.port}" if r.port else r.proto
                app = f" {r.application}" if r.application else ""
                if key in r.source:
                    texts.append(f"to {', '.join(r.destination)} {svc}{app} [{r.id}]")
                if key in r.destination:
                    texts.append(f"from {', '.join(r.source)} {svc}{app} [{r.id}]")
            hit = self._peers[zone] = (tuple(texts[:MAX_PEERS]), max(0, len(texts) - MAX_PEERS), len(rules))
        return hit


@dataclass
class ControlsContext:
    """What the controls are computed from; the stage refreshes it before each correlation."""

    zoning: Zoning
    policy: PolicyInfo | None = None
    monitoring: Mapping[str, Summary] = field(default_factory=dict)
    criticality: Mapping[str, int] = field(default_factory=dict)  # device class -> 1..5


# The same for most devices of a site without a policy, flows or register: one object each, shared
# by every record (the records are frozen), not one per device.
_NO_POLICY = Segmentation(policy="none", detail="no approved segmentation policy ([policy] file)")
_NOT_MONITORED = Monitoring(active=False, detail="no flows from or to this device in the monitoring state")
_UNREGISTERED = Ownership(registered=False)


def segmentation(rec: DeviceRecord, zone: str, ctx: ControlsContext) -> tuple[Segmentation, tuple[str, ...], int]:
    p = ctx.policy
    if p is None:
        return _NO_POLICY, (), 0
    pzone = next((z for z in (p.zone_of(i.ip) for i in rec.ips) if z is not None), None) or zone
    protected = pzone in p.protected
    peers, more, rules = p.peers(pzone)
    base = dict(version=p.doc.policy.version, hash=p.digest, zone_protected=protected, rules=rules)
    if not protected:
        return Segmentation(policy="none", detail=f"approved policy version {p.doc.policy.version} does not "
                                                  f"protect zone {pzone}: its conversations are not checked",
                            **base), peers, more  # type: ignore[arg-type]
    if p.export is None:
        return Segmentation(policy="approved", detail=f"approved policy version {p.doc.policy.version} protects "
                                                      f"zone {pzone} ({rules} approved rule(s)) but was never "
                                                      f"exported: nothing enforces it", **base), peers, more  # type: ignore[arg-type]
    at = _ts(p.export.at)
    return Segmentation(policy="exported", exported_at=at, exported_format=p.export.format,
                        detail=f"approved policy version {p.doc.policy.version} protects zone {pzone} "
                               f"({rules} approved rule(s)); exported as {p.export.format} on "
                               f"{at:%Y-%m-%d %H:%M} UTC", **base), peers, more  # type: ignore[arg-type]


def monitoring(mac: str, ctx: ControlsContext, now: float) -> Monitoring:
    s = ctx.monitoring.get(mac)
    if s is None:
        return _NOT_MONITORED
    learning = None if s.baseline_since is None else (s.learning_until is not None and now < s.learning_until)
    age = None if s.baseline_since is None else round((now - s.baseline_since) / DAY, 2)
    active = s.flows_24h > 0 and learning is False
    if active:
        since = _ts(s.baseline_since)
        detail = f"flows seen in the last 24 h; baseline established from {since:%Y-%m-%d}"
    elif s.flows_24h == 0:
        detail = "no flows seen in the last 24 h"
    elif learning is None:
        detail = "flows seen in the last 24 h but no baseline yet"
    else:
        detail = "flows seen in the last 24 h; baseline still learning"
    return Monitoring(flows_24h=s.flows_24h, windows_24h=s.windows_24h, last_flow=_ts(s.last_flow),
                      baseline_since=_ts(s.baseline_since), baseline_age_days=age, learning=learning,
                      anomalies_30d=s.anomalies_30d, violations_30d=s.violations_30d, active=active, detail=detail)


def controls_of(rec: DeviceRecord, ctx: ControlsContext, now: float) -> Controls:
    """One device's controls."""
    att = rec.attachment
    c = rec.classification
    ip = rec.ips[0].ip if rec.ips else None
    place = ctx.zoning.place(ip=ip, mac=rec.mac, device_class=c.device_class, medical=c.medical,
                             switch=att.switch if att else None, port=att.port if att else None)
    seg, peers, more = segmentation(rec, place.zone, ctx)
    reg = rec.register
    owner = (Ownership(registered=True, asset_tag=reg.asset_tag, owner=reg.owner, department=reg.department,
                       location=reg.location) if reg is not None else _UNREGISTERED)
    vlan = att.vlan if att is not None else None
    # Interned: the same few texts for thousands of devices ("class infusion_pump", "VLAN 20").
    return Controls(zone=place.zone, zone_reason=sys.intern(place.reason),
                    segment=sys.intern(f"VLAN {vlan}") if vlan is not None else "", vlan=vlan, segmentation=seg,
                    allowed_peers=peers, allowed_peers_more=more, monitoring=monitoring(rec.mac, ctx, now),
                    ownership=owner)


def apply_controls(records: Mapping[str, DeviceRecord], ctx: ControlsContext, now: float, *,
                   in_place: bool = False) -> dict[str, DeviceRecord]:
    """Records with their controls, and their risk with the factors the controls and advisories give.

    ``in_place`` (``records`` a dict): each record is replaced in ``records`` itself, so that a
    campus's records without and with controls are not held at once (~60 MB for 50,000 devices).
    """
    out: dict[str, DeviceRecord] = records if in_place and isinstance(records, dict) else {}
    for mac, rec in records.items():
        ctl = controls_of(rec, ctx, now)
        crit = criticality_of(rec.classification, ctx.criticality)
        extra = control_factors(crit, rec.advisories, ctl)
        risk = rec.risk
        if extra:
            factors = risk.factors + extra
            score = max(0, min(100, sum(f.points for f in factors)))
            risk = msgspec.structs.replace(risk, score=score, level=level(score), factors=factors)
        out[mac] = msgspec.structs.replace(rec, controls=ctl, risk=risk)
    return out
