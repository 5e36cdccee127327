"""What a flow window says about one device: its conversations, as published on ``flows``.

Structs only, so that the device directory (shared with the correlator) and the flow
stages can both name them without importing each other.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from collectors.flows.decode import NO_SAMPLING
from collectors.flows.table import U64
from sensor.wiretime import UtcTime

# 64-bit counters: msgspec cannot check bounds beyond int64, so the bound is in the schema
# for the hub, and the aggregation clamps to it.
Counter = Annotated[int, msgspec.Meta(ge=0, extra_json_schema={"maximum": U64})]


class Conversation(msgspec.Struct, frozen=True, array_like=True):
    """Compact on the wire: [peer, port, proto, dir, bytes_out, bytes_in, packets_out, packets_in, flows,
    exporters, sampling, sampling_from].

    Counted once: when several exporters saw the conversation, the numbers are those
    of the nearest (``exporters[0]``); the others are listed after it. Counters are
    renormalized by the winner's sampling rate (1 in ``sampling``), announced as
    ``sampling_from`` says.
    """

    peer: str
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)]
    proto: Annotated[int, msgspec.Meta(ge=0, le=255)]
    dir: str  # "out": the device opened it; "in": the peer did
    bytes_out: Counter
    bytes_in: Counter
    packets_out: Counter
    packets_in: Counter
    flows: Counter
    exporters: list[str] = msgspec.field(default_factory=list)  # "192.0.2.1 ipfix", the one counted first
    sampling: Annotated[int, msgspec.Meta(ge=1, le=1 << 32)] = 1
    sampling_from: str = NO_SAMPLING


class DeviceConversations(msgspec.Struct, frozen=True, kw_only=True):
    device: str  # MAC when known, else the address
    mac: str | None
    ip: str
    # The flow window, as every time on the wire: RFC 3339 in UTC (msgspec's datetime format).
    window_start: UtcTime
    window_end: UtcTime
    bytes_out: Counter
    bytes_in: Counter
    conversations: list[Conversation]
    peer_macs: dict[str, str] = msgspec.field(default_factory=dict)  # from flow L2 fields, when exported
