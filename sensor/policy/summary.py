"""The retained ``policy`` message: which approved segmentation policy the sensor watches."""

from __future__ import annotations

from typing import Annotated

import msgspec

# sensor.observations.Timestamp (not imported: observations imports this module)
Timestamp = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]


class ZoneSummary(msgspec.Struct, frozen=True, kw_only=True):
    zone: str
    label: str
    protected: bool
    devices: int
    addresses: int
    rules_from: int  # approved rules with this zone as source
    rules_to: int


class PolicySummary(msgspec.Struct, frozen=True, kw_only=True):
    """The retained ``policy`` message: which approved policy the sensor watches."""

    version: int
    hash: str  # sha256 of the zones' addresses and the approved rules
    file: str
    generated_at: Timestamp | None
    rules: int
    approved_rules: int
    rejected_rules: int
    stale_rules: int
    zones: list[ZoneSummary]
