"""Observations: what the sensor tells the hub, and the envelope around each one.

An observation names its kind and topic suffix; the outbox gives it a ``seq`` and
wraps it in the v1 envelope when it is committed, so the envelope a hub receives is
byte-for-byte the one stored (a QoS 1 redelivery carries the same ``seq``).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from sensor.correlate.model import DeviceEvent, DeviceRecord
from sensor.evidence.model import RegisterSummary
from sensor.flows.events import AnomalyEvent, PolicyViolationEvent
from sensor.flows.model import DeviceConversations
from sensor.policy.summary import PolicySummary

SCHEMA = "edge-sensor/v1"

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
    started_at: str


class HealthData(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    started_at: str
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
    last_success: str | None
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
    kind: Kind
    site: str
    sensor: str
    seq: int | None  # None only on status messages: the broker sends the last will, not us
    observed_at: str  # RFC 3339, UTC
    data: Any


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


def event_obs(data: DeviceEvent | AnomalyEvent | PolicyViolationEvent, at: float) -> Observation:
    return Observation(kind="event", topic="events", data=data, observed_at=at)


# What an observation carries, by kind: the structs the JSON Schemas are generated from
# (sensor/messages.py). None: a forgotten device (an empty retained message).
Data = (StatusData | HealthData | SwitchHealth | DeviceRecord | DeviceEvent | AnomalyEvent | PolicyViolationEvent
        | DeviceConversations | RegisterSummary | PolicySummary | None)


def topic_base(prefix: str, site: str, sensor_id: str) -> str:
    return f"{prefix.rstrip('/')}/{site}/{sensor_id}"
