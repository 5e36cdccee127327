"""Observations: what the sensor tells the hub, and the envelope around each one.

An observation names its kind and topic suffix; the outbox gives it a ``seq`` and
wraps it in the v1 envelope when it is committed, so the envelope a hub receives is
byte-for-byte the one stored (a QoS 1 redelivery carries the same ``seq``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from sensor.correlate.model import DeviceEvent, DeviceRecord
from sensor.evidence.model import RegisterSummary
from sensor.flows.events import AnomalyEvent, PolicyViolationEvent
from sensor.flows.model import DeviceConversations
from sensor.policy.summary import PolicySummary

SCHEMA = "edge-sensor/v1"
# The minor version of the v1 contract: raised by additive changes (a new field, kind or event),
# which keep the major version (and the topic prefix). A hub accepts any 1.x and ignores what it
# does not know. 1.1: epoch, schema_version, the forgotten and snapshot_complete events.
# 1.2: the flow window (window_start, window_end) is a date-time like every other time; it was Unix
# seconds before. The one non-additive change in v1, made before the first release (README).
SCHEMA_VERSION = "1.2"

# Every time on the wire: RFC 3339 in UTC with "Z", microseconds (msgspec's datetime format,
# so envelope strings and record datetimes look alike); declared as format: date-time.
Timestamp = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
SchemaVersion = Annotated[str, msgspec.Meta(pattern=r"^1\.[0-9]+$")]

Kind = Literal["status", "device", "event", "switch", "flows", "health", "register", "policy"]


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    kind: Kind
    topic: str  # suffix under edge-sensor/v1/{site}/{sensor_id}/
    data: Data
    retain: bool = False
    observed_at: float


class StatusData(msgspec.Struct, frozen=True, kw_only=True):
    state: Literal["online", "offline"]
    version: str
    started_at: Timestamp
    # True on the last will: the broker sends it when the sensor goes away, but its bytes were
    # made at connect time, so its observed_at is the connect time. The sensor was last seen
    # alive at its last health message (every health_interval_s); it went away after that.
    will: bool = False
    health_interval_s: float | None = None


class HealthData(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    started_at: Timestamp
    uptime_s: float
    outbox_depth: int
    outbox_max: int
    outbox_dropped_total: int  # messages dropped because the outbox was full, ever
    outbox_last_dropped_seq: int  # the highest seq dropped (0: none), so a hub can tell a gap from a loss
    observation_queue: int
    sources: int
    failing_sources: dict[str, str]  # source -> its last error, in words
    counters: dict[str, float | int | str | None]
    hub_connected: bool | None = None
    hub_last_error: str | None = None
    outbox_error: str | None = None  # set while nothing can be committed (e.g. the state disk is full)
    # What the broker should hold for this sensor, per retained kind (devices: the device records):
    # a hub compares it with what it holds to know its copy of the inventory is complete.
    retained: dict[str, int] = msgspec.field(default_factory=dict)


class PortRoleInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the correlator decided one port is for, and why."""

    port: str
    ifindex: int | None
    role: Literal["uplink", "access", "phone", "access-point", "unknown"]
    evidence: list[str]
    macs: int  # end-device MACs learned on it


class SwitchHealth(msgspec.Struct, frozen=True, kw_only=True):
    """The retained ``switches/{name}`` message: how the last poll of one switch went."""

    switch: str
    host: str
    method: str
    methods: dict[str, str]  # table -> the method that produced it
    method_errors: dict[str, str]
    ok: bool
    last_success: Timestamp | None
    last_error: str | None
    consecutive_failures: int
    duration_s: float
    varbinds: int
    requests: int
    rows: dict[str, int]  # SNMP: rows per MIB table walked
    table_rows: dict[str, int]  # rows per normalized table (interfaces, fdb, arp, lldp), any method
    fdb_unmapped: int = 0  # learned forwarding rows the switch gave no port for: counted, attached nowhere
    table_errors: list[str]
    notes: list[str]
    sys_name: str | None
    uplinks: list[str]  # as configured
    ports: int | None
    ports_up: int | None
    # The port roles the correlator detected from every switch's tables (empty when the poll failed).
    port_roles: list[PortRoleInfo] = msgspec.field(default_factory=list)
    # Why a poll that worked is degraded (a method failed, a table incomplete, an uplink missing).
    degraded: list[str] = []


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    schema: str
    schema_version: str = SCHEMA_VERSION
    kind: Kind
    site: str
    sensor: str
    epoch: str  # the outbox's life: (sensor, epoch, seq) is unique; a new epoch means seq started again
    seq: int | None  # None only on status messages: the broker sends the last will, not us
    observed_at: str  # RFC 3339, UTC
    data: Any


class SnapshotComplete(msgspec.Struct, frozen=True, kw_only=True):
    """On ``events`` after a full republish of the retained state: the hub's copy is whole again."""

    event: Literal["snapshot_complete"]
    reason: Literal["broker lost retained state", "hub request"]
    at: Timestamp
    retained: dict[str, int]  # messages republished per kind (device, switch, register, policy)
    first_seq: int | None  # the republished messages have seqs first_seq..last_seq (None: nothing retained)
    last_seq: int | None


def status_obs(data: StatusData, at: float) -> Observation:
    return Observation(kind="status", topic="status", data=data, retain=True, observed_at=at)


def health_obs(data: HealthData, at: float) -> Observation:
    return Observation(kind="health", topic="health", data=data, observed_at=at)


def switch_obs(name: str, data: SwitchHealth, at: float) -> Observation:
    return Observation(kind="switch", topic=f"switches/{name}", data=data, retain=True, observed_at=at)


def device_obs(mac: str, data: DeviceRecord | None, at: float) -> Observation:
    """A device record; ``data=None`` forgets the device (an empty retained message)."""
    return Observation(kind="device", topic=f"devices/{mac}", data=data, retain=True, observed_at=at)


def register_obs(data: RegisterSummary, at: float) -> Observation:
    """The retained summary of the asset register's reconciliation with the network."""
    return Observation(kind="register", topic="register", data=data, retain=True, observed_at=at)


def flows_obs(data: DeviceConversations, at: float) -> Observation:
    """One device's conversation summary for one window."""
    return Observation(kind="flows", topic="flows", data=data, observed_at=at)


def policy_obs(data: PolicySummary, at: float) -> Observation:
    """The approved policy the sensor watches (retained): version, hash, per-zone summary."""
    return Observation(kind="policy", topic="policy", data=data, retain=True, observed_at=at)


def event_obs(data: DeviceEvent | AnomalyEvent | PolicyViolationEvent | SnapshotComplete, at: float) -> Observation:
    return Observation(kind="event", topic="events", data=data, observed_at=at)


# What an observation carries, by kind: the structs the JSON Schemas are generated from
# (sensor/messages.py). None: a forgotten device (an empty retained message). Raw: a stored message's
# data, republished as it was (sensor/publish/outbox.py).
Data = (StatusData | HealthData | SwitchHealth | DeviceRecord | DeviceEvent | AnomalyEvent | PolicyViolationEvent
        | SnapshotComplete | DeviceConversations | RegisterSummary | PolicySummary | msgspec.Raw | None)


def topic_base(prefix: str, site: str, sensor_id: str) -> str:
    return f"{prefix.rstrip('/')}/{site}/{sensor_id}"
