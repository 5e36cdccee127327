"""Risk from 0 to 100: clinical criticality times exposure, minus compensating controls.

Each factor is published with its points (already scaled by criticality), so the
score is the sum of the factors' points, clamped to 0..100. The finding every
hospital assessment reports, a medical device on a VLAN that also holds
workstations, is the factor ``flat_network``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sensor.classify.classifier import FlowHints
from sensor.correlate.model import Classification, Risk, RiskFactor
from sensor.evidence.model import AdvisoryMatch, Controls

BASE_EXPOSURE = 30  # on a shared network at all
FLAT_NETWORK = 40
SHARES_WITH_UNKNOWN = 10
OUTSIDE_SEGMENT = 15
ON_SEGMENT = -25
CLEARTEXT = 15
EXTERNAL = 20
UNEXPECTED_PEERS = 15
POLICY_VIOLATION = 15
UNKNOWN_MEDICAL_CRITICALITY = 4
ADVISORY_NO_FIX = 20
ENFORCED_SEGMENTATION = -20
ACTIVE_MONITORING = -10


@dataclass(frozen=True)
class VlanPeers:
    """Who else shares a device's VLAN: counts and a few examples."""

    workstations: int = 0
    workstation_examples: tuple[str, ...] = ()
    unknown: int = 0
    unknown_examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    workstation_classes: frozenset[str] = frozenset({"workstation"})
    expected_vlans: Mapping[str, frozenset[int]] = field(default_factory=dict)

    def vlans_for(self, device_class: str) -> frozenset[int] | None:
        return self.expected_vlans.get(device_class)


def level(score: int) -> str:
    return "critical" if score >= 75 else "high" if score >= 50 else "medium" if score >= 25 else "low"


def _few(macs: Sequence[str], count: int) -> str:
    return ", ".join(macs[:3]) + (f" and {count - len(macs[:3])} more" if count > len(macs[:3]) else "")


def criticality_of(c: Classification, classes: Mapping[str, int]) -> int:
    """The class's clinical criticality (1..5); an unclassified medical device counts as critical-ish."""
    if c.device_class == "unknown" and c.medical:
        return UNKNOWN_MEDICAL_CRITICALITY
    return classes.get(c.device_class, 2)


def control_factors(criticality: int, advisories: Sequence[AdvisoryMatch], controls: Controls
                    ) -> tuple[RiskFactor, ...]:
    """What published advisories and the compensating controls add to the score, each with why."""
    k = criticality / 5.0
    out = []
    nofix = [a for a in advisories if "vendor_fix" not in a.remediations]
    if nofix:
        worst = max((a.max_cvss for a in nofix if a.max_cvss is not None), default=None)
        cves = sum(len(a.cves) for a in nofix)
        given: list[str] = sorted({r for a in nofix for r in a.remediations}) or ["none given"]
        out.append(RiskFactor(
            name="advisories_without_fix", points=round(k * ADVISORY_NO_FIX),
            detail=f"{len(nofix)} published advisor{'y' if len(nofix) == 1 else 'ies'} without a vendor fix "
                   f"({_few([a.advisory for a in nofix], len(nofix))}; {cves} CVE(s)"
                   + (f", CVSS up to {worst:g}" if worst is not None else "")
                   + f"); remediation offered: {', '.join(given)}"))
    seg = controls.segmentation
    if seg.policy == "exported":
        out.append(RiskFactor(name="enforced_segmentation", points=round(k * ENFORCED_SEGMENTATION),
                              detail=f"segmentation enforced: {seg.detail}"))
    elif seg.policy == "approved":
        out.append(RiskFactor(name="segmentation_not_enforced", points=0,
                              detail=f"no reduction: {seg.detail}"))
    mon = controls.monitoring
    if mon.active:
        out.append(RiskFactor(name="active_monitoring", points=round(k * ACTIVE_MONITORING),
                              detail=f"actively monitored: {mon.detail}"))
    return tuple(out)


def assess(c: Classification, criticality: int, vlan: int | None, peers: VlanPeers | None, policy: Policy,
           flows: FlowHints | None = None, cleartext: Mapping[int, str] | None = None) -> Risk:
    crit = UNKNOWN_MEDICAL_CRITICALITY if c.device_class == "unknown" and c.medical else criticality
    k = crit / 5.0
    factors = [RiskFactor(name="exposure", points=round(k * BASE_EXPOSURE),
                          detail=f"{c.label} (criticality {crit}/5) on a shared network")]
    expected = policy.vlans_for(c.device_class)
    flat = bool(c.medical and peers and peers.workstations)
    if flat and peers is not None:
        factors.append(RiskFactor(name="flat_network", points=round(k * FLAT_NETWORK),
                                  detail=f"flat network: shares VLAN {vlan} with {peers.workstations} "
                                         f"workstation(s) ({_few(peers.workstation_examples, peers.workstations)})"))
    if c.medical and peers and peers.unknown:
        factors.append(RiskFactor(name="shares_vlan_with_unknown", points=round(k * SHARES_WITH_UNKNOWN),
                                  detail=f"shares VLAN {vlan} with {peers.unknown} unclassified device(s) "
                                         f"({_few(peers.unknown_examples, peers.unknown)})"))
    if expected is not None and vlan is not None:
        if vlan in expected and not flat:
            factors.append(RiskFactor(name="expected_segment", points=round(k * ON_SEGMENT),
                                      detail=f"on its expected segment (VLAN {vlan})"))
        elif vlan not in expected:
            factors.append(RiskFactor(name="outside_expected_segment", points=round(k * OUTSIDE_SEGMENT),
                                      detail=f"on VLAN {vlan}, not on its expected VLANs "
                                             f"({', '.join(map(str, sorted(expected)))})"))
    if flows is not None:
        names = sorted({(cleartext or {}).get(p, str(p)) for p in (flows.serves | flows.uses)
                        if p in (cleartext or {})})
        if names:
            factors.append(RiskFactor(name="cleartext_management", points=round(k * CLEARTEXT),
                                      detail=f"cleartext protocols seen: {', '.join(names)}"))
        if flows.external_peers:
            factors.append(RiskFactor(name="external_destinations", points=round(k * EXTERNAL),
                                      detail=f"talks to {flows.external_peers} external address(es)"))
        if flows.unexpected_peers:
            factors.append(RiskFactor(name="unexpected_peers", points=round(k * UNEXPECTED_PEERS),
                                      detail=f"reachable from {flows.unexpected_peers} peer(s) beyond its "
                                             f"expected peers"))
        if flows.policy_violations:
            factors.append(RiskFactor(name="policy_violations", points=round(k * POLICY_VIOLATION),
                                      detail=f"{flows.policy_violations} conversation(s) the approved segmentation "
                                             f"policy does not allow"))
    score = max(0, min(100, sum(f.points for f in factors)))
    return Risk(score=score, level=level(score), factors=tuple(factors))  # type: ignore[arg-type]
