"""The correlator and the flow collector share what they know through DeviceDirectory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sensor.config import load_config
from sensor.correlate.engine import Correlator
from sensor.directory import DeviceDirectory
from sensor.flows.model import Conversation, DeviceConversations
from tests.correlate.factory import IPS, MON, PUMP, WS, dist, sw1

# A modality from a vendor no rule knows (a locally administered MAC: no OUI at all).
MODALITY = "02:1a:2b:3c:4d:5e"
MODALITY_IP = "198.18.10.40"


def _conv(mac: str, ip: str, *convs: Conversation) -> DeviceConversations:
    return DeviceConversations(device=mac, mac=mac, ip=ip, window_start=datetime.fromtimestamp(0.0, UTC), window_end=datetime.fromtimestamp(300.0, UTC),
                               bytes_out=1000, bytes_in=1000, conversations=list(convs))


def test_addresses_and_medical_classes_flow_to_the_flow_collector(write_config: Callable[..., Path]) -> None:
    corr = Correlator.from_config(load_config(write_config()))
    out = corr.ingest([dist(1000.0), sw1(1001.0)], 1002.0)
    d = DeviceDirectory(medical_prefixes=[], internal_prefixes=["198.18.0.0/15"])
    assert d.resolve(IPS[PUMP]) is None  # nothing known before the first correlation
    d.update_from_records(out.records)
    assert d.resolve(IPS[PUMP]) == PUMP and d.resolve(IPS[MON]) == MON
    assert d.resolve("198.18.20.10") is None  # the server is only an ARP entry, not a device
    assert d.is_medical(PUMP, IPS[PUMP]) and d.is_medical(MON, IPS[MON])
    assert not d.is_medical(WS, IPS[WS])
    # where each device is plugged in: the flow aggregation counts its access switch's export
    assert d.access_switch(PUMP) == out.records[PUMP].attachment.switch == "sw1"  # type: ignore[union-attr]
    assert d.access_switch("02:00:00:00:00:99") is None
    # Without a MAC, a configured medical prefix still says so.
    assert DeviceDirectory(medical_prefixes=["198.18.10.0/28"]).is_medical(None, "198.18.10.5")


def test_ports_seen_in_flows_feed_classification(write_config: Callable[..., Path]) -> None:
    corr = Correlator.from_config(load_config(write_config()))
    snaps = [dist(1000.0, arp={**{m: IPS[m] for m in (PUMP, MON, WS)}, MODALITY: MODALITY_IP}),
             sw1(1001.0, where={PUMP: "ge1", MON: "ge2", WS: "ge3", MODALITY: "ge5"})]
    before = corr.ingest(snaps, 1002.0).records[MODALITY]
    assert before.classification.device_class == "unknown"

    d = DeviceDirectory(internal_prefixes=["198.18.0.0/15"])
    d.update_from_records(corr.ingest([], 1003.0).records)
    # One flow window: the workstation sends DICOM to the modality, which answers on 104.
    d.add_window([
        _conv(MODALITY, MODALITY_IP, Conversation(IPS[WS], 104, 6, "in", 500, 80_000, 10, 60, 1)),
        _conv(WS, IPS[WS], Conversation(MODALITY_IP, 104, 6, "out", 500, 80_000, 10, 60, 1),
              Conversation("203.0.113.9", 443, 6, "out", 1, 1, 1, 1, 1)),
    ])
    hints = d.flow_hints()
    assert hints[MODALITY].serves == frozenset({104}) and hints[WS].uses == frozenset({104, 443})
    assert hints[WS].external_peers == 1 and hints[MODALITY].external_peers == 0

    after = corr.ingest([dist(1100.0, arp={**{m: IPS[m] for m in (PUMP, MON, WS)}, MODALITY: MODALITY_IP}),
                         sw1(1101.0, where={PUMP: "ge1", MON: "ge2", WS: "ge3", MODALITY: "ge5"})],
                        1102.0, flows=hints).records[MODALITY]
    assert after.classification.device_class == "imaging", after.classification
    assert any("serves DICOM (port 104)" in r for r in after.classification.reasons)
    # Windows accumulate: a later window adds ports, never forgets the earlier ones.
    d.add_window([_conv(MODALITY, MODALITY_IP, Conversation(IPS[WS], 11112, 6, "in", 1, 1, 1, 1, 1))])
    assert d.flow_hints()[MODALITY].serves == frozenset({104, 11112})
