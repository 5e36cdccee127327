"""What the sensor publishes about devices: the retained record and the change events.

These frozen structs are the contract with the hub: the JSON Schemas shipped in
``sensor/schemas/`` are generated from them (``sensor schema`` prints them) and a
test fails when a struct changes without the shipped schema being regenerated.
Times are RFC 3339 in UTC, like the envelope's ``observed_at``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from sensor.evidence.model import AdvisoryMatch, Controls, RegisterFields
from sensor.wiretime import UtcTime

Confidence = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Score = Annotated[int, msgspec.Meta(ge=0, le=100)]


# gc=False: frozen records of strings, numbers, times and tuples cannot form reference cycles, and a
# campus builds 50,000 records per correlation (the cyclic collector would keep and walk them all).
class Attachment(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Where a device is plugged in, how sure the sensor is, and why."""

    switch: str  # the name in this sensor's configuration
    # The switch's globally unique id, the same in every sensor: its bridge (base) MAC as it reports
    # it, else the LLDP chassis id its polled neighbours see for it (a MAC as everywhere, any other
    # chassis id as "lldp:" + the id). None: neither is known.
    switch_id: str | None = None
    port: str  # ifName (ifDescr when the switch has no name), or "ifIndex N"
    ifindex: int | None
    vlan: int | None
    confidence: Confidence
    evidence: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # e.g. "edge switch not polled"
    first_seen: UtcTime | None = None
    last_seen: UtcTime | None = None


class IpAddress(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    ip: str
    version: Literal[4, 6]
    router: str  # whose ARP / neighbour table said so
    first_seen: UtcTime
    last_seen: UtcTime


class Neighbour(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the device says about itself over LLDP/CDP, when it speaks it."""

    protocol: str
    sys_name: str = ""
    sys_desc: str = ""
    capabilities: tuple[str, ...] = ()
    platform: str = ""
    # From the LLDP-MED inventory, when the device sends one.
    med_class: str | None = None  # "endpoint-1", "endpoint-2", "endpoint-3" or "network"
    manufacturer: str = ""
    model: str = ""
    hardware: str = ""  # LLDP-MED hardware, firmware and software revisions
    firmware: str = ""
    software: str = ""


class Classification(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    device_class: str  # infusion_pump, patient_monitor, imaging, lab_analyzer, ... or unknown
    label: str
    clinical_function: str | None = None
    medical: bool = False
    confidence: Confidence = 0.0
    reasons: tuple[str, ...] = ()


class RiskFactor(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    name: str  # criticality, flat_network, expected_segment, ...
    points: int  # positive raises the risk, negative is a compensating control
    detail: str


class Risk(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    score: Score
    level: Literal["low", "medium", "high", "critical"]
    factors: tuple[RiskFactor, ...] = ()


class DeviceRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The retained record on ``devices/{mac}``."""

    mac: str
    present: bool  # false once disappeared (the last attachment is kept)
    vendor: str | None = None
    oui: str | None = None  # the registry block that matched, e.g. "58:42:e4" or "70:b3:d5:36:a0/36"
    vendor_note: str | None = None  # e.g. "network module by Lantronix"
    locally_administered: bool = False
    first_seen: UtcTime
    last_seen: UtcTime
    attachment: Attachment | None = None
    ips: tuple[IpAddress, ...] = ()
    neighbour: Neighbour | None = None
    classification: Classification
    risk: Risk
    flags: tuple[str, ...] = ()
    register: RegisterFields | None = None  # the asset register's row, when one matches ([register])
    advisories: tuple[AdvisoryMatch, ...] = ()  # vendor+product matches or better ([advisories])
    advisories_vendor_only: tuple[str, ...] = ()  # advisory ids that name only the device's vendor
    controls: Controls | None = None  # zone, segmentation policy, allowed peers, monitoring, ownership


# forgotten: after forget_after; its retained record is cleared (an empty message) at the same time
EventKind = Literal["appeared", "moved", "ip_changed", "disappeared", "flapping", "forgotten"]


class DeviceEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One change, published on ``events``."""

    event: EventKind
    mac: str
    at: UtcTime
    detail: str
    attachment: Attachment | None = None
    previous_attachment: Attachment | None = None  # moved, flapping
    ips: tuple[str, ...] = ()
    previous_ips: tuple[str, ...] = ()  # ip_changed
    vendor: str | None = None
    device_class: str | None = None


SCHEMA_TYPES: dict[str, type[msgspec.Struct]] = {"device": DeviceRecord, "event": DeviceEvent}
