"""Every message the sensor publishes, as structs: the source of the shipped JSON Schemas.

One struct per message kind (the v1 envelope with its ``data`` typed), so a hub can
validate what it receives and a change here shows up as a changed schema file
(``sensor/schemas/*.json``, checked by a test). Device records and events live with
the correlator (``sensor.correlate.model``), flow conversations with the flow stage.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from sensor.correlate.model import DeviceEvent, DeviceRecord
from sensor.evidence.model import RegisterSummary
from sensor.flows.events import AnomalyEvent, PolicyViolationEvent
from sensor.flows.model import DeviceConversations
from sensor.observations import HealthData, SchemaVersion, SnapshotComplete, StatusData, SwitchHealth, Timestamp
from sensor.policy.summary import PolicySummary

SchemaName = Literal["edge-sensor/v1"]


class _Envelope(msgspec.Struct, frozen=True, kw_only=True):
    schema: SchemaName
    # 1.x: additive changes raise the minor version only. Fields added in a minor version are optional
    # here, so a hub validating with these schemas also accepts older 1.x sensors (absent: "1.0").
    schema_version: SchemaVersion = "1.0"
    site: str
    sensor: str
    epoch: str | None = None  # the outbox's life (since 1.1): (sensor, epoch, seq) is unique
    observed_at: Timestamp


class StatusMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["status"]
    seq: None  # the broker sends the last will, so status is outside the sequence
    data: StatusData


class HealthMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["health"]
    seq: int
    data: HealthData


class SwitchMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["switch"]
    seq: int
    data: SwitchHealth


class DeviceMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["device"]
    seq: int
    data: DeviceRecord


class DeviceEventMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["event"]
    seq: int
    data: DeviceEvent


class AnomalyEventMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["event"]
    seq: int
    data: AnomalyEvent


class PolicyViolationMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["event"]
    seq: int
    data: PolicyViolationEvent


class SnapshotCompleteMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["event"]
    seq: int
    data: SnapshotComplete


class PolicyMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["policy"]
    seq: int
    data: PolicySummary


class FlowsMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["flows"]
    seq: int
    data: DeviceConversations


class RegisterMessage(_Envelope, frozen=True, kw_only=True):
    kind: Literal["register"]
    seq: int
    data: RegisterSummary


# schema name -> the message structs it accepts (one of them)
MESSAGES: dict[str, tuple[type[msgspec.Struct], ...]] = {
    "status": (StatusMessage,),
    "health": (HealthMessage,),
    "switch": (SwitchMessage,),
    "device": (DeviceMessage,),
    "event": (DeviceEventMessage, AnomalyEventMessage, PolicyViolationMessage, SnapshotCompleteMessage),
    "flows": (FlowsMessage,),
    "register": (RegisterMessage,),
    "policy": (PolicyMessage,),
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one message kind, generated from the structs."""
    types = MESSAGES[name]
    refs, defs = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    body: dict[str, Any] = refs[0] if len(refs) == 1 else {"anyOf": list(refs)}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"edge-sensor/v1/{name}",
            **body, "$defs": defs}
