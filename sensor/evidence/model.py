"""What the evidence adds to a device record and publishes: register fields, advisory matches, the
reconciliation summary. These structs are part of the hub contract (their JSON Schemas are shipped)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from sensor.evidence.csaf import RemediationCategory

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
    last_seen: datetime
    notes: tuple[str, ...] = ()  # where the register and the network disagree


class UnseenAsset(msgspec.Struct, frozen=True, kw_only=True):
    asset_tag: str
    manufacturer: str = ""
    model: str = ""
    department: str = ""
    location: str = ""
    high_risk: bool | None = None
    mac: str | None = None  # the matched device, when it was seen once
    last_seen: datetime | None = None  # None: never seen
    why: str


class ShadowDevice(msgspec.Struct, frozen=True, kw_only=True):
    """A medical device on the network that no register row accounts for."""

    mac: str
    vendor: str | None = None
    device_class: str
    switch: str | None = None
    port: str | None = None
    ips: tuple[str, ...] = ()
    first_seen: datetime
    last_seen: datetime


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
