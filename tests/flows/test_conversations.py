"""Per-device conversations, baselines and anomaly rules (pure)."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from typing import Any

import msgspec

from collectors.flows import Decoder, FlowTable
from sensor.directory import DeviceDirectory
from sensor.flows.baseline import Baselines, BaselineState
from sensor.flows.conversations import Aggregator, service_side
from sensor.flows.model import Conversation, DeviceConversations
from tests.flows.build import (
    FLOW_FIELDS,
    data_set,
    flow_record,
    ipfix,
    ipfix_template_record,
    ipfix_template_set,
    v5,
    v5_record,
    v9,
    v9_template_set,
)
from tests.support.schemas import validate_message

PUMP, MON, SRV = "198.18.10.21", "198.18.10.22", "198.18.20.10"
PUMP_MAC, MON_MAC = "58:42:e4:12:10:21", "00:09:fb:12:10:22"
INTERNAL = ["198.18.0.0/15"]


def table(*recs: bytes) -> FlowTable:
    d = Decoder()
    t = FlowTable()
    res = d.decode(ipfix(1, ipfix_template_set(ipfix_template_record(300, FLOW_FIELDS)), data_set(300, *recs)), "e")
    for b in res.batches:
        t.add(b)
    return t


def directory() -> DeviceDirectory:
    return DeviceDirectory(macs={PUMP: PUMP_MAC, MON: MON_MAC}, medical_macs=[PUMP_MAC, MON_MAC])


def test_service_side() -> None:
    assert service_side(40000, 2575, 6) == (False, 2575)
    assert service_side(2575, 40000, 6) == (True, 2575)
    assert service_side(50000, 11112, 6) == (False, 11112)
    assert service_side(0, 2048, 1) == (False, 0)


def test_conversation_direction_and_split() -> None:
    t = table(flow_record(PUMP, SRV, 40000, 2575, 6, 1000, 10), flow_record(SRV, PUMP, 2575, 40000, 6, 200, 8),
              flow_record(PUMP, SRV, 40001, 2575, 6, 500, 5))
    (dc, srv) = sorted(Aggregator(directory(), INTERNAL).summarize(t, 0, 300), key=lambda d: d.device != PUMP_MAC)
    assert dc.device == PUMP_MAC and dc.ip == PUMP
    (c,) = dc.conversations
    assert (c.peer, c.port, c.proto, c.dir) == (SRV, 2575, 6, "out")
    assert (c.bytes_out, c.bytes_in, c.packets_out, c.packets_in, c.flows) == (1500, 200, 15, 8, 3)
    # the server is internal too: it sees the same conversation inbound
    assert srv.device == SRV and srv.conversations[0].dir == "in"


def make(learning: float = 100.0, **kw: object) -> Baselines:
    return Baselines(BaselineState(), directory(), internal=INTERNAL, dns_resolvers=[SRV],
                     it_management=["198.18.99.0/24"], learning_period=learning, realert=3600, **kw)  # type: ignore[arg-type]


def run(b: Baselines, t: FlowTable, now: float) -> list[dict[str, Any]]:
    convs = Aggregator(directory(), INTERNAL).summarize(t, now - 300, now)
    events = [msgspec.to_builtins(e) for e in b.update(convs, now)]  # typed events, as published
    # What would be published matches the shipped JSON Schemas (flows and event messages).
    for kind, data in [*(("flows", msgspec.to_builtins(c)) for c in convs), *(("event", e) for e in events)]:
        env = {"schema": "edge-sensor/v1", "kind": kind, "site": "lab", "sensor": "t", "seq": 1,
               "observed_at": "2026-11-23T00:00:00.000Z", "data": data}
        validate_message(f"edge-sensor/v1/lab/t/{kind}", json.dumps(env).encode())
    return events


def test_learning_then_one_event_for_dns_to_outside_and_no_repeat() -> None:
    b = make()
    assert run(b, table(flow_record(PUMP, SRV, 40000, 2575, 6, 1000, 10)), 50) == []
    t = table(flow_record(PUMP, SRV, 40000, 2575, 6, 1000, 10), flow_record(PUMP, "203.0.113.53", 5353, 53, 17, 80, 1))
    (ev,) = run(b, t, 500)
    assert ev["device"] == PUMP_MAC and ev["peer"] == {"ip": "203.0.113.53", "port": 53, "proto": 17, "dir": "out"}
    assert {r["rule"] for r in ev["reasons"]} == {"new_external_destination", "dns_unlisted_resolver"}
    assert run(b, t, 800) == []  # same condition, same window later: no repeat


def test_policy_rules() -> None:
    b = make(learning=0)
    t = table(flow_record(PUMP, MON, 40000, 445, 6, 100, 1), flow_record(PUMP, "198.18.99.5", 40000, 443, 6, 100, 1),
              flow_record(PUMP, SRV, 40000, 53, 17, 100, 1))
    events = run(b, t, 10)
    rules = {(e["peer"]["ip"], r["rule"]) for e in events if e["device"] == PUMP_MAC for r in e["reasons"]}
    assert (MON, "admin_protocol_from_medical") in rules and (MON, "medical_to_medical") in rules
    assert ("198.18.99.5", "it_management") in rules
    assert not any(ip == SRV for ip, _ in rules)  # DNS to the configured resolver is fine


def test_volume_far_above_baseline() -> None:
    b = make(learning=1000, volume_min_bytes=1000)
    for i in range(5):
        run(b, table(flow_record(PUMP, SRV, 40000, 2575, 6, 1000, 10)), 100 + i)
    events = run(b, table(flow_record(PUMP, SRV, 40000, 2575, 6, 10_000_000, 10)), 2000)
    assert [e["rule"] for e in events if e["device"] == PUMP_MAC] == ["volume_above_baseline"]


def test_bounded_devices_and_peers() -> None:
    recs = [flow_record(str(ipaddress.ip_address("198.18.10.0") + i), "203.0.113.1", 40000, 443, 6, 1, 1)
            for i in range(1, 60)]
    agg = Aggregator(DeviceDirectory(), INTERNAL, max_devices=10)
    assert len(agg.summarize(table(*recs), 0, 1)) == 10 and agg.dropped > 0


def test_cli_decode_json(corpus) -> None:  # type: ignore[no-untyped-def]
    g = corpus / "goflow2"
    out = subprocess.run([sys.executable, "-m", "sensor.cli", "flows", "decode", str(g / "v9_cisco_tpl260_23fields.bin"),
                          str(g / "v9_cisco_data260_21rec.bin"), "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 21 and lines[0]["sourceIPv4Address"] == "198.38.120.222"
    assert lines[0]["ingressVRFID"] == 1610612738
    bad = subprocess.run([sys.executable, "-m", "sensor.cli", "flows", "decode",
                          str(corpus / "bitkeks_python-netflow/invalid_ff.bin")], capture_output=True, text=True)
    assert bad.returncode == 1 and "rejected" in bad.stderr


# ------------------------------------------------------------- counted once
SW1, DIST = "198.18.0.11", "198.18.0.1"
V9_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 4)]


def exported(*parts: tuple[str, str, list[tuple[str, str, int, int, int, int, int]]]) -> FlowTable:
    """One window's table: each (exporter address, "v5"|"v9"|"ipfix", flows) decoded and added."""
    d = Decoder()
    t = FlowTable()
    for exporter, version, flows in parts:
        if version == "v5":
            dgram = v5(*(v5_record(*f) for f in flows))
        elif version == "v9":
            dgram = v9(1, v9_template_set(300, V9_FIELDS), data_set(300, *(flow_record(*f) for f in flows)))
        else:
            dgram = ipfix(1, ipfix_template_set(ipfix_template_record(300, FLOW_FIELDS)),
                          data_set(300, *(flow_record(*f) for f in flows)))
        res = d.decode(dgram, exporter)
        assert res.error is None
        for b in res.batches:
            t.add(b)
    return t


HL7 = [(PUMP, SRV, 40000, 2575, 6, 1000, 10), (SRV, PUMP, 2575, 40000, 6, 200, 8)]


def hl7_of(convs: list[DeviceConversations], device: str = PUMP_MAC) -> Conversation:
    (dc,) = [d for d in convs if d.device == device]
    (c,) = [c for c in dc.conversations if c.port == 2575]
    return c


def test_one_switch_exporting_v5_v9_and_ipfix_is_counted_once() -> None:
    # the lab: softflowd on sw1 exports the same traffic three times
    t = exported((SW1, "v5", HL7), (SW1, "v9", HL7), (SW1, "ipfix", HL7))
    assert sum(v[0] for v in t.rows.values()) == 3 * 1200  # what the table holds: every export
    agg = Aggregator(directory(), INTERNAL)
    c = hl7_of(agg.summarize(t, 0, 300))
    assert (c.bytes_out, c.bytes_in, c.packets_out, c.packets_in, c.flows) == (1000, 200, 10, 8, 2)
    assert c.exporters == [f"{SW1} ipfix", f"{SW1} v9", f"{SW1} v5"]  # IPFIX counted, all listed
    assert agg.duplicates == 2 * 2  # pump and server each see the conversation from two more exporters


def test_the_device_access_switch_wins_over_a_router_then_preference_then_configured_switches() -> None:
    near = [(PUMP, SRV, 40000, 2575, 6, 1000, 10)]
    far = [(PUMP, SRV, 40000, 2575, 6, 1100, 11)]  # the distribution router saw a little more (other timing)
    only_far = [(PUMP, "198.18.30.5", 40001, 104, 6, 77, 1)]  # a conversation only the router saw
    t = exported((SW1, "v9", near), (DIST, "ipfix", far + only_far))
    switches = {SW1: "sw1", DIST: "dist"}
    on_sw1 = DeviceDirectory(macs={PUMP: PUMP_MAC}, switches={PUMP_MAC: "sw1"})
    convs = Aggregator(on_sw1, INTERNAL, switch_exporters=switches).summarize(t, 0, 300)
    c = hl7_of(convs)
    assert (c.bytes_out, c.exporters) == (1000, [f"{SW1} v9", f"{DIST} ipfix"])
    (dc,) = [d for d in convs if d.device == PUMP_MAC]
    assert dc.bytes_out == 1000 + 77  # one exporter each: both counted
    # attachment unknown: prefer_exporters decides, before any configured switch
    unknown = DeviceDirectory(macs={PUMP: PUMP_MAC})
    c = hl7_of(Aggregator(unknown, INTERNAL, switch_exporters=switches, prefer_exporters=[DIST]).summarize(t, 0, 300))
    assert (c.bytes_out, c.exporters[0]) == (1100, f"{DIST} ipfix")
    # neither: a configured switch before an unknown exporter
    c = hl7_of(Aggregator(unknown, INTERNAL, switch_exporters={SW1: "sw1"}).summarize(t, 0, 300))
    assert c.exporters[0] == f"{SW1} v9"
    # nothing known: stable (IPFIX first), whatever order the datagrams came in
    t2 = exported((DIST, "ipfix", far), (SW1, "v9", near))
    for tab in (t, t2):
        assert hl7_of(Aggregator(unknown, INTERNAL).summarize(tab, 0, 300)).exporters[0] == f"{DIST} ipfix"


def test_configured_switch_addresses_are_exporters(write_config) -> None:  # type: ignore[no-untyped-def]
    from sensor.config import load_config
    from sensor.flows.source import switch_addresses

    path = write_config('[[switch]]\nname = "sw1"\nhost = "198.18.0.11"\n[switch.snmp]\ncommunity_file = "c"\n'
                        '[[switch]]\nname = "core"\nhost = "core.example"\n[switch.snmp]\ncommunity_file = "c"\n')
    cfg = load_config(path, check_files=False)
    assert switch_addresses(cfg) == {"198.18.0.11": "sw1"}
