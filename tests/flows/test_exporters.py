"""What real exporters send: zero-length fields, sampling announced in options (or in the records),
template floods, and counters that do not fit in 64 bits.

Every datagram is built here with struct, field by field, as RFC 7011/7012/7014
(IPFIX), RFC 3954 (NetFlow v9) and Cisco's documentation describe them, and sent
over a real UDP socket to the listener (IPv4 and IPv6 exporters). The template
flood and the restart go through the flow source's own state directory.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import msgspec
import pytest

from collectors.flows import Decoder, FlowCollector, FlowListener, batch_dicts
from sensor.config import FlowsSection
from sensor.directory import DeviceDirectory
from sensor.flows.baseline import Baselines, BaselineState
from sensor.flows.conversations import Aggregator
from sensor.flows.events import Reason
from sensor.flows.model import Conversation, DeviceConversations
from sensor.flows.source import FlowSource
from sensor.metrics import Metrics
from tests.flows.build import (
    data_set,
    ipfix,
    ipfix_template_record,
    ipfix_template_set,
    v9,
    v9_options_template_set,
    v9_template_set,
)
from tests.support.schemas import validate_message

PUMP, SRV = "198.18.10.21", "198.18.20.10"
PUMP_MAC = "58:42:e4:12:10:21"
INTERNAL = ["198.18.0.0/15"]
U64 = 2**64 - 1
V4 = ("127.0.0.1", socket.AF_INET, "127.0.0.0/8")
V6 = ("::1", socket.AF_INET6, "::1/128")


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


EXPORTERS = [pytest.param(V4, id="ipv4"),
             pytest.param(V6, id="ipv6", marks=pytest.mark.skipif(not ipv6_available(), reason="no ::1 here"))]


async def over_udp(datagrams: Sequence[bytes], exporter: tuple[str, int, str] = V4) -> FlowCollector:
    """Send the datagrams from ``exporter``'s loopback address to a listener; the collector that got them."""
    host, family, allowed = exporter
    coll = FlowCollector([allowed])
    with FlowListener([(host, 0)], coll.feed, rcvbuf=1 << 20) as lst:
        lst.start()
        port = lst.bound[0][1]
        with socket.socket(family, socket.SOCK_DGRAM) as tx:
            for d in datagrams:
                tx.sendto(d, (host, port))
                await asyncio.sleep(0)  # in order, as an exporter sends them
        for _ in range(300):
            if lst.datagrams == len(datagrams):
                break
            await asyncio.sleep(0.01)
    assert lst.datagrams == len(datagrams)
    assert coll.decoder.stats["decode_errors.internal"] == 0
    return coll


def conversations(coll: FlowCollector) -> list[Conversation]:
    agg = Aggregator(DeviceDirectory(macs={PUMP: PUMP_MAC}), INTERNAL)
    (dc,) = [d for d in agg.summarize(coll.table, 0, 300) if d.device == PUMP_MAC]
    return dc.conversations


def rec(sport: int, nbytes: int, npkts: int, *extra: bytes, dport: int = 2575) -> bytes:
    """pump -> server, tcp: src(4) dst(4) sport(2) dport(2) proto(1) bytes(4) packets(4), then ``extra``."""
    return (socket.inet_aton(PUMP) + socket.inet_aton(SRV) + struct.pack("!HHBII", sport, dport, 6, nbytes, npkts)
            + b"".join(extra))


FLOW4 = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4)]


# ----------------------------------------------------------------- zero-length fields
async def test_zero_length_fields_are_skipped_and_the_records_decoded() -> None:
    # v9: ipNextHopIPv4Address and interfaceName announced with length 0 (nothing to say),
    # in a datagram that also carries a second, ordinary template and its data.
    v9_fields = [(8, 4), (12, 4), (15, 0), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4), (82, 0)]
    v9_dgram = v9(1, v9_template_set(300, v9_fields), v9_template_set(301, FLOW4),
                  data_set(300, *(rec(40000 + i, 1000, 10) for i in range(5))),
                  data_set(301, *(rec(41000 + i, 10, 1) for i in range(3))))
    # IPFIX: a zero-length IANA element and a zero-length enterprise element between counters.
    ipfix_fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (96, 0), (1, 4), (999, 0, 9), (2, 4)]
    ipfix_rec = [socket.inet_aton(PUMP) + socket.inet_aton(SRV) + struct.pack("!HHBII", 42000 + i, 104, 6, 500, 5)
                 for i in range(4)]
    ipfix_dgram = ipfix(1, ipfix_template_set(ipfix_template_record(310, ipfix_fields)), data_set(310, *ipfix_rec))
    coll = await over_udp([v9_dgram, ipfix_dgram])
    d = coll.decoder
    assert d.stats["decode_errors"] == 0
    assert coll.table.records == 5 + 3 + 4  # every record recovered (none before: templates rejected)
    assert d.stats["templates_zero_length_fields"] == 2
    hl7, dicom = sorted(conversations(coll), key=lambda c: c.port != 2575)
    assert (hl7.bytes_out, hl7.packets_out, hl7.flows) == (5 * 1000 + 3 * 10, 5 * 10 + 3, 8)
    assert (dicom.port, dicom.bytes_out, dicom.packets_out, dicom.flows) == (104, 4 * 500, 4 * 5, 4)
    # rendered records skip the empty fields; the others keep their values
    res = Decoder().decode(v9_dgram, "e")
    first = batch_dicts(res.batches[0])[0]
    assert "ipNextHopIPv4Address" not in first and "interfaceName" not in first
    assert first["octetDeltaCount"] == 1000 and first["sourceTransportPort"] == 40000


def test_a_template_of_zero_length_fields_only_is_still_refused() -> None:
    d = Decoder()
    res = d.decode(v9(1, v9_template_set(300, [(8, 0), (12, 0)])), "e")
    assert res.error is not None and d.template_count() == 0 and d.stats["decode_errors.internal"] == 0


# ------------------------------------------------------------------------ sampling
def v9_sampler_options(tid: int, options: Sequence[tuple[int, int]], *records: bytes) -> list[bytes]:
    """An options template (scope: System, 4 octets) and its data."""
    return [v9_options_template_set(tid, [(1, 4)], options), data_set(tid, *records)]


@pytest.mark.parametrize("exporter", EXPORTERS)
async def test_ios_xr_n_out_of_n_samplers_by_flow_sampler_id(exporter: tuple[str, int, str]) -> None:
    # IOS-XR sampler-map "random 1 out-of 256" (and a second map, 1 out-of 100): an options
    # record per sampler, FlowSamplerID (48) with samplingSize/samplingPopulation (309/310);
    # every data record names its sampler in field 48.
    opts = v9_sampler_options(256, [(48, 4), (309, 4), (310, 4)],
                              struct.pack("!IIII", 0, 1, 1, 256), struct.pack("!IIII", 0, 2, 1, 100))
    tpl = v9_template_set(257, [*FLOW4, (48, 4)])
    data = data_set(257, rec(40000, 1000, 2, struct.pack("!I", 1)), rec(40001, 3000, 5, struct.pack("!I", 1)),
                    rec(40002, 70, 1, struct.pack("!I", 2)))
    coll = await over_udp([v9(0, *opts, tpl), v9(0, data)], exporter)
    totals = sorted((b.rate, b.rate_from) for b in coll.decoder.decode(v9(0, data), exporter[0]).batches)
    assert totals == [(100, "options samplingSize/Population (309/310) 1 of 100, FlowSamplerID 2"),
                      (256, "options samplingSize/Population (309/310) 1 of 256, FlowSamplerID 1")]
    (c,) = conversations(coll)
    assert c.bytes_out == 4000 * 256 + 70 * 100 and c.packets_out == 7 * 256 + 100
    assert c.sampling == 256 and "309/310" in c.sampling_from and "FlowSamplerID" in c.sampling_from


@pytest.mark.parametrize("exporter", EXPORTERS)
async def test_v9_flow_sampler_random_interval_and_system_wide_interval(exporter: tuple[str, int, str]) -> None:
    # RFC 3954: FLOW_SAMPLER_ID (48, 1 octet) / FLOW_SAMPLER_MODE (49) / FLOW_SAMPLER_RANDOM_INTERVAL (50)
    # for one sampler, and SAMPLING_INTERVAL (34) / SAMPLING_ALGORITHM (35) for the whole exporter
    # (source id 2, records without a sampler id).
    per_sampler = v9_sampler_options(256, [(48, 1), (49, 1), (50, 4)], struct.pack("!IBBI", 0, 5, 2, 1000))
    system = v9_sampler_options(258, [(34, 4), (35, 1)], struct.pack("!IIB", 0, 64, 1))
    d1 = v9(1, *per_sampler, v9_template_set(257, [*FLOW4, (48, 1)]), data_set(257, rec(40000, 100, 1, b"\x05")))
    d2 = v9(2, *system, v9_template_set(259, FLOW4), data_set(259, rec(40001, 10, 1, dport=104)))
    coll = await over_udp([d1, d2], exporter)
    by_port = {c.port: c for c in conversations(coll)}
    assert (by_port[2575].bytes_out, by_port[2575].sampling) == (100 * 1000, 1000)
    assert by_port[2575].sampling_from == "options FLOW_SAMPLER_RANDOM_INTERVAL (50), FlowSamplerID 5"
    assert (by_port[104].bytes_out, by_port[104].sampling) == (640, 64)
    assert by_port[104].sampling_from == "options SAMPLING_INTERVAL (34)"


@pytest.mark.parametrize("exporter", EXPORTERS)
async def test_ipfix_selector_id_packet_interval_and_space(exporter: tuple[str, int, str]) -> None:
    # RFC 7014 / RFC 5476: a Selector Report (scope selectorId 302) with systematic count-based
    # sampling, 1 packet selected then 99 skipped (samplingPacketInterval/Space 305/306); data
    # records carry selectorId. The options data comes AFTER the flow data in the same message:
    # the rate still applies to it (IPFIX does not order sets).
    opt_tpl = ipfix_template_record(500, [(302, 4), (304, 2), (305, 4), (306, 4)], scope=1)
    flow_tpl = ipfix_template_record(300, [*FLOW4, (302, 4)])
    msg = ipfix(7, ipfix_template_set(opt_tpl, options=True), ipfix_template_set(flow_tpl),
                data_set(300, rec(40000, 600, 3, struct.pack("!I", 9))),
                data_set(500, struct.pack("!IHII", 9, 1, 1, 99)))
    coll = await over_udp([msg], exporter)
    (c,) = conversations(coll)
    assert (c.bytes_out, c.packets_out, c.sampling) == (60_000, 300, 100)
    assert c.sampling_from == "options samplingPacketInterval/Space (305/306) 1/99, selectorId 9"


@pytest.mark.parametrize("exporter", EXPORTERS)
async def test_ipfix_sampler_id_random_interval(exporter: tuple[str, int, str]) -> None:
    opt_tpl = ipfix_template_record(500, [(48, 2), (50, 4)], scope=1)
    flow_tpl = ipfix_template_record(300, [*FLOW4, (48, 2)])
    msg1 = ipfix(3, ipfix_template_set(opt_tpl, options=True), data_set(500, struct.pack("!HI", 4, 512)))
    msg2 = ipfix(3, ipfix_template_set(flow_tpl), data_set(300, rec(40000, 10, 1, struct.pack("!H", 4))))
    coll = await over_udp([msg1, msg2], exporter)
    (c,) = conversations(coll)
    assert (c.bytes_out, c.sampling, c.sampling_from) == (5120, 512, "options samplerRandomInterval (50), samplerId 4")


async def test_rate_carried_in_each_record_wins() -> None:
    # Huawei NetStream (v9) puts SAMPLING_INTERVAL (34) in every data record.
    tpl = v9_template_set(300, [*FLOW4, (34, 4)])
    data = data_set(300, rec(40000, 10, 1, struct.pack("!I", 2000)), rec(40001, 10, 1, struct.pack("!I", 0)))
    coll = await over_udp([v9(0, tpl, data)])
    rates = sorted((b.rate, b.rate_from) for b in coll.decoder.decode(v9(0, data), "127.0.0.1").batches)
    assert rates == [(1, "none announced"), (2000, "record samplingInterval (34)")]
    (c,) = conversations(coll)
    assert c.bytes_out == 10 * 2000 + 10


def test_sampling_source_survives_restart() -> None:
    d = Decoder()
    d.decode(v9(0, *v9_sampler_options(256, [(34, 4)], struct.pack("!II", 0, 32))), "e")
    d2 = Decoder()
    d2.load_state(json.loads(json.dumps(d.dump_state())))
    (b,) = d2.decode(v9(0, v9_template_set(300, FLOW4), data_set(300, rec(1, 1, 1))), "e").batches
    assert (b.rate, b.rate_from) == (32, "options SAMPLING_INTERVAL (34)")
    # a state file written before the source was kept: [sampler, rate] pairs
    old = {"e": {"templates": [], "sampling": [[9, 0, [[-1, 16]]]]}}
    d3 = Decoder()
    d3.load_state(old)
    (b,) = d3.decode(v9(0, v9_template_set(300, FLOW4), data_set(300, rec(1, 1, 1))), "e").batches
    assert (b.rate, b.rate_from) == (16, "options record")


# -------------------------------------------------------------------- template flood
FLOOD = 20_000  # 40 times the cache; the 100,000 behave the same, only slower


def flood_datagrams(n: int, per_datagram: int = 100) -> list[bytes]:
    """``n`` distinct template definitions (ids 256-65535, then further observation domains)."""
    out = []
    for start in range(0, n, per_datagram):
        recs = []
        for i in range(start, min(n, start + per_datagram)):
            recs.append(ipfix_template_record(256 + i % 65000, [(8, 4), (12, 4), (1, 4), (2, 4), (900 + i % 7, 2)]))
        out.append(ipfix(100 + start // 65000, ipfix_template_set(*recs)))
    return out


def flows_cfg() -> FlowsSection:
    return FlowsSection(listen=["127.0.0.1:0"], allowed_exporters=["127.0.0.0/8"])


def test_template_flood_evicts_unused_templates_keeps_those_in_use_and_survives_restart(tmp_path: Path) -> None:
    exp = "127.0.0.1"
    src = FlowSource(flows_cfg(), tmp_path)
    in_use = ipfix(1, ipfix_template_set(ipfix_template_record(300, FLOW4)), data_set(300, rec(40000, 10, 1)))
    src.collector.feed(in_use, exp)
    t0 = time.monotonic()
    for dgram in flood_datagrams(FLOOD):
        src.collector.feed(dgram, exp)
    flood_s = time.monotonic() - t0
    d = src.decoder
    assert len(d.exporters[exp].templates) == 512
    assert d.stats["templates_evicted"] == FLOOD + 1 - 512 and d.stats["templates_over_cap"] == 0
    # the template in use is still there; a new legitimate one is learned and decoded
    src.collector.feed(ipfix(1, data_set(300, rec(40001, 10, 1))), exp)
    src.collector.feed(ipfix(1, ipfix_template_set(ipfix_template_record(301, FLOW4)),
                             data_set(301, rec(40002, 10, 1))), exp)
    assert src.collector.table.records == 3
    metrics = Metrics()
    src.sync_metrics(metrics)
    assert metrics.snapshot()["flows.templates_evicted"] == FLOOD + 2 - 512
    src.persist()
    src.close()
    # after a restart the saved cache (full of the flood) does not lock the exporter out
    again = FlowSource(flows_cfg(), tmp_path)
    again.collector.feed(ipfix(1, data_set(300, rec(40003, 10, 1)), data_set(301, rec(40004, 10, 1))), exp)
    again.collector.feed(ipfix(1, ipfix_template_set(ipfix_template_record(302, FLOW4)),
                               data_set(302, rec(40005, 10, 1))), exp)
    assert again.collector.table.records == 3
    assert again.decoder.stats["templates_over_cap"] == 0
    print(f"{FLOOD} template definitions in {flood_s:.2f}s")


def test_full_cache_of_templates_in_use_evicts_the_least_recently_used() -> None:
    d = Decoder(max_templates_per_exporter=3)
    for tid in (300, 301, 302):
        d.decode(ipfix(1, ipfix_template_set(ipfix_template_record(tid, FLOW4)), data_set(tid, rec(1, 1, 1))), "e")
    d.decode(ipfix(1, data_set(300, rec(1, 1, 1)), data_set(302, rec(1, 1, 1))), "e")  # 301 is now the LRU
    d.decode(ipfix(1, ipfix_template_set(ipfix_template_record(303, FLOW4))), "e")
    assert sorted(t for _v, _d, t in d.exporters["e"].templates) == [300, 302, 303]


# ------------------------------------------------------------------ 64-bit counters
async def test_counters_beyond_64_bits_are_clamped_counted_and_bounded_in_the_schema() -> None:
    # 2^64-1 octets sampled 1 in 2^32-1: the exporter is wrong; the sensor says so and stays in 64 bits.
    opt = ipfix_template_record(500, [(149, 4), (34, 4)], scope=1)
    flow = ipfix_template_record(300, [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8)])
    big = socket.inet_aton(PUMP) + socket.inet_aton(SRV) + struct.pack("!HHBQQ", 40000, 2575, 6, U64, U64)
    big2 = socket.inet_aton(PUMP) + socket.inet_aton(SRV) + struct.pack("!HHBQQ", 40001, 2575, 6, U64, U64)
    msg = ipfix(1, ipfix_template_set(opt, options=True), ipfix_template_set(flow),
                data_set(500, struct.pack("!II", 1, 2**32 - 1)), data_set(300, big, big2))
    coll = await over_udp([msg])
    assert coll.table.clamped_records == 2
    agg = Aggregator(DeviceDirectory(macs={PUMP: PUMP_MAC}), INTERNAL)
    convs = agg.summarize(coll.table, 0, 300)
    (dc,) = [d for d in convs if d.device == PUMP_MAC]
    (c,) = dc.conversations
    assert c.bytes_out == c.packets_out == dc.bytes_out == U64
    assert agg.clamped > 0  # two clamped records summed: clamped again
    for d in convs:
        env = {"schema": "edge-sensor/v1", "kind": "flows", "site": "lab", "sensor": "t", "seq": 1,
               "observed_at": "2026-11-23T00:00:00.000Z", "data": msgspec.to_builtins(d)}
        validate_message("edge-sensor/v1/lab/t/flows", json.dumps(env).encode())
    # the schema bounds what a hub accepts: one more than 64 bits is refused
    env["data"] = {**msgspec.to_builtins(dc), "bytes_out": U64 + 1}
    with pytest.raises(jsonschema.ValidationError):
        validate_message("edge-sensor/v1/lab/t/flows", json.dumps(env).encode())
    # baselines: the volume stays in 64 bits, so does the mean and any event
    state = BaselineState()
    base = Baselines(state, DeviceDirectory(macs={PUMP: PUMP_MAC}), internal=INTERNAL, learning_period=0,
                     volume_min_bytes=1)
    small = DeviceConversations(device=PUMP_MAC, mac=PUMP_MAC, ip=PUMP, window_start=datetime.fromtimestamp(0, UTC), window_end=datetime.fromtimestamp(300, UTC),
                                bytes_out=1, bytes_in=0, conversations=[])
    for i in range(3):
        base.update([small], 300.0 * (i + 1))
    both = DeviceConversations(device=PUMP_MAC, mac=PUMP_MAC, ip=PUMP, window_start=datetime.fromtimestamp(0, UTC), window_end=datetime.fromtimestamp(300, UTC),
                               bytes_out=U64, bytes_in=U64, conversations=[])
    (ev,) = base.update([both], 2000)
    assert ev.rule == "volume_above_baseline" and ev.bytes == U64 and base.clamped == 1
    assert state.devices[PUMP_MAC].mean_bytes <= U64
    huge = Conversation("203.0.113.5", 443, 6, "out", U64, U64, U64, U64, 1)
    ev = Baselines._event(both, huge, [Reason(rule="new_external_destination", why="-")], 2000)
    assert ev.bytes == ev.packets == U64


def test_an_options_template_flood_does_not_evict_templates_in_use() -> None:
    d = Decoder(max_templates_per_exporter=3)
    opt = ipfix_template_record(500, [(149, 4), (34, 4)], scope=1)
    d.decode(ipfix(1, ipfix_template_set(opt, options=True), data_set(500, struct.pack("!II", 1, 10)),
                   ipfix_template_set(ipfix_template_record(300, FLOW4)), data_set(300, rec(1, 1, 1))), "e")
    for tid in range(600, 620):
        d.decode(ipfix(1, ipfix_template_set(ipfix_template_record(tid, [(149, 4), (41, 8)], scope=1),
                                             options=True)), "e")
    assert {t for _v, _d, t in d.exporters["e"].templates} == {300, 500, 619}
    (b,) = d.decode(ipfix(1, data_set(300, rec(1, 1, 1))), "e").batches
    assert b.rate == 10
