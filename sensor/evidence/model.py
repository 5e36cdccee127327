"""What the evidence adds to a device record and publishes: register fields, advisory matches, the
reconciliation summary. These structs are part of the hub contract (their JSON Schemas are shipped)."""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec

from sensor.evidence.csaf import RemediationCategory
from sensor.wiretime import UtcTime

MatchBasis = Literal["mac", "ip", "manufacturer+model+location"]
Confidence = Literal["vendor", "vendor+product", "vendor+product+version"]


class RegisterFields(msgspec.Struct, frozen=True, kw_only=True):
    """The asset register's row for a device, and how the row was matched to it."""

    asset_tag: str
    basis: MatchBasis
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    department: str = ""
    location: str = ""
    owner: str = ""
    high_risk: bool | None = None
    patchable: bool | None = None
    end_of_support: date | None = None


class Cve(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    cvss: float | None = None  # CVSS v3 base score
    severity: str | None = None
    vector: str | None = None


class AdvisoryMatch(msgspec.Struct, frozen=True, kw_only=True):
    """One advisory that concerns a device, how sure the match is, and why."""

    advisory: str  # tracking id, e.g. "ICSMA-20-170-05"
    title: str
    released: str = ""
    url: str | None = None
    confidence: Confidence
    basis: tuple[str, ...]
    products: tuple[str, ...] = ()  # the advisory's products that matched, with their versions
    cves: tuple[Cve, ...] = ()
    max_cvss: float | None = None
    remediations: tuple[RemediationCategory, ...] = ()  # in order: vendor_fix, mitigation, workaround, ...


class MatchedAsset(msgspec.Struct, frozen=True, kw_only=True):
    asset_tag: str
    mac: str
    basis: MatchBasis
    detail: str
    last_seen: UtcTime
    notes: tuple[str, ...] = ()  # where the register and the network disagree


class UnseenAsset(msgspec.Struct, frozen=True, kw_only=True):
    asset_tag: str
    manufacturer: str = ""
    model: str = ""
    department: str = ""
    location: str = ""
    high_risk: bool | None = None
    mac: str | None = None  # the matched device, when it was seen once
    last_seen: UtcTime | None = None  # None: never seen
    why: str


class ShadowDevice(msgspec.Struct, frozen=True, kw_only=True):
    """A medical device on the network that no register row accounts for."""

    mac: str
    vendor: str | None = None
    device_class: str
    switch: str | None = None
    port: str | None = None
    ips: tuple[str, ...] = ()
    first_seen: UtcTime
    last_seen: UtcTime


class RegisterSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The retained ``register`` message: the reconciliation of the asset register with the network."""

    file: str
    rows: int  # register rows used
    rows_rejected: int  # rows with errors (``sensor register check`` lists them)
    unseen_after_days: float
    matched: int
    matched_by: dict[str, int]
    unseen: int
    shadows: int
    matches: tuple[MatchedAsset, ...] = ()
    unseen_assets: tuple[UnseenAsset, ...] = ()
    shadow_devices: tuple[ShadowDevice, ...] = ()
    dropped: int = 0  # list entries left out to bound the message (counted in matched/unseen/shadows)


class Segmentation(msgspec.Struct, frozen=True, kw_only=True):
    """Whether an approved segmentation policy covers the device and was exported to an enforcement point."""

    policy: Literal["none", "approved", "exported"]  # none: no approved policy (or it does not cover the device)
    version: int | None = None
    hash: str | None = None  # sha256 of the approved policy's zones and rules
    zone_protected: bool = False  # the policy's scope: conversations touching a protected zone are checked
    rules: int = 0  # approved rules with the device's zone (or address) on either side
    exported_at: UtcTime | None = None  # the last ruleset compiled for this hash (`sensor policy export`)
    exported_format: str | None = None
    detail: str


class Monitoring(msgspec.Struct, frozen=True, kw_only=True):
    """What the sensor's flow monitoring sees of the device."""

    flows_24h: int = 0  # flow records in the last 24 h
    windows_24h: int = 0  # flow windows with traffic in the last 24 h
    last_flow: UtcTime | None = None
    baseline_since: UtcTime | None = None
    baseline_age_days: float | None = None
    learning: bool | None = None  # None: no baseline
    anomalies_30d: int = 0
    violations_30d: int = 0  # policy_violation events in the last 30 days
    active: bool  # flows in the last 24 h and an established baseline
    detail: str


class Ownership(msgspec.Struct, frozen=True, kw_only=True):
    """Who answers for the device, from the asset register."""

    registered: bool
    asset_tag: str = ""
    owner: str = ""
    department: str = ""
    location: str = ""


class Controls(msgspec.Struct, frozen=True, kw_only=True):
    """The compensating controls around a device, from what the sensor knows."""

    zone: str
    zone_reason: str
    segment: str  # e.g. "VLAN 20, 10.20.20.0/24"; "" when not attached
    vlan: int | None = None
    segmentation: Segmentation
    allowed_peers: tuple[str, ...] = ()  # from the approved rules: "zone:clinical_servers tcp/2575 (rule-id)"
    allowed_peers_more: int = 0  # rules beyond those listed
    monitoring: Monitoring
    ownership: Ownership
