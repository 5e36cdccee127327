"""The events a flow window raises, as published on ``events``: anomalies against a device's
baseline (``sensor.flows.baseline``) and violations of the approved segmentation policy
(``sensor.policy.watch``). Structs from where they are made to the outbox.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from sensor.flows.model import Counter
from sensor.wiretime import UtcTime


class Peer(msgspec.Struct, frozen=True, kw_only=True):
    ip: str
    port: int
    proto: int
    dir: Literal["in", "out"]


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    why: str


class AnomalyEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A flow anomaly on ``events``: the device, the peer, and every reason."""

    event: Literal["anomaly"]
    device: str  # MAC when known, else the address
    mac: str | None
    ip: str
    peer: Peer | None  # None for "volume above baseline"
    rule: str  # the first reason's rule
    reasons: list[Reason]
    bytes: Counter
    packets: Counter | None = None
    window_start: UtcTime
    window_end: UtcTime


class PolicyViolationEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation the approved segmentation policy does not allow, on ``events``."""

    event: Literal["policy_violation"]
    device: str  # MAC when known, else the address
    mac: str | None
    ip: str
    peer: Peer
    service: str  # "tcp/2575", "icmp"
    application: str | None  # "HL7 MLLP", an IANA name, or None
    zone: str | None  # the device's zone in the approved policy ("external" when in none)
    peer_zone: str | None
    bytes: Counter
    packets: Counter
    rule: str | None  # the approved rule for the same source and service that would have applied, if any
    policy_version: int
    policy_hash: str
    window_start: UtcTime
    window_end: UtcTime


FlowEvent = AnomalyEvent | PolicyViolationEvent
