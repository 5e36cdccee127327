"""Template cache semantics, field encodings, sampling, caps and persistence (synthetic datagrams)."""

from __future__ import annotations

import json
import struct

from collectors.flows import Decoder, FlowTable, batch_dicts, flow_records
from tests.flows.build import (
    FLOW_FIELDS,
    data_set,
    flow_record,
    ipfix,
    ipfix_template_record,
    ipfix_template_set,
    v9,
    v9_options_template_set,
    v9_template_set,
    varlen,
)

REC = flow_record("10.0.0.1", "10.0.0.2", 40000, 2575, 6, 1000, 10)


def tset(tid: int = 300, fields=FLOW_FIELDS) -> bytes:
    return ipfix_template_set(ipfix_template_record(tid, fields))


def test_cache_key_includes_exporter_and_domain() -> None:
    d = Decoder()
    d.decode(ipfix(1, tset(300)), "192.0.2.1")
    # same template id, other exporter / other domain: unknown there
    assert d.decode(ipfix(1, data_set(300, REC)), "192.0.2.2").records == 0
    assert d.decode(ipfix(2, data_set(300, REC)), "192.0.2.1").records == 0
    assert d.decode(ipfix(1, data_set(300, REC)), "192.0.2.1").records == 1
    assert d.stats["unknown_template_sets"] == 2


def test_templates_apply_before_data_in_same_datagram() -> None:
    d = Decoder()
    res = d.decode(ipfix(1, data_set(300, REC, REC), tset(300)), "192.0.2.1")
    assert res.records == 2


def test_redefinition_replaces() -> None:
    d = Decoder()
    d.decode(ipfix(1, tset(300)), "e")
    other = [(12, 4), (8, 4), (11, 2), (7, 2), (4, 1), (1, 8), (2, 4)]  # src/dst swapped
    d.decode(ipfix(1, tset(300, other)), "e")
    (b,) = d.decode(ipfix(1, data_set(300, REC)), "e").batches
    assert flow_records(b)[0].src == "10.0.0.2"
    assert d.stats["templates_redefined"] == 1


def test_ipfix_withdrawal_single_and_all() -> None:
    d = Decoder()
    d.decode(ipfix(1, tset(300), tset(301)), "e")
    d.decode(ipfix(1, ipfix_template_set(struct.pack("!HH", 300, 0))), "e")
    assert d.decode(ipfix(1, data_set(300, REC)), "e").records == 0
    assert d.decode(ipfix(1, data_set(301, REC)), "e").records == 1
    d.decode(ipfix(1, ipfix_template_set(struct.pack("!HH", 2, 0))), "e")  # all templates
    assert d.decode(ipfix(1, data_set(301, REC)), "e").records == 0
    assert d.template_count() == 0


def test_enterprise_and_variable_length_both_forms() -> None:
    d = Decoder()
    fields = [(8, 4), (12, 4), (96, 0xFFFF), (1, 4), (2, 4), (999, 0xFFFF, 9), (123, 2, 35632)]
    rec1 = (bytes([10, 0, 0, 1, 10, 0, 0, 2]) + varlen(b"hl7") + struct.pack("!II", 500, 5)
            + varlen(b"x" * 300) + b"\x00\x25")
    rec2 = (bytes([10, 0, 0, 3, 10, 0, 0, 4]) + varlen(b"dicom", long=True) + struct.pack("!II", 7, 1)
            + varlen(b"") + b"\x00\x01")
    res = d.decode(ipfix(1, tset(310, fields), data_set(310, rec1, rec2)), "e")
    assert res.error is None and res.records == 2
    r1, r2 = batch_dicts(res.batches[0])
    assert r1["applicationName"] == "hl7" and r2["applicationName"] == "dicom"
    assert r1["ie9.999"] == "78" * 300 and r2["ie9.999"] == ""
    assert r1["ie35632.123"] == "0025"
    fr = flow_records(res.batches[0])
    assert [(f.src, f.bytes, f.packets) for f in fr] == [("10.0.0.1", 500, 5), ("10.0.0.3", 7, 1)]


def test_variable_length_past_end_is_a_decode_error() -> None:
    d = Decoder()
    fields = [(8, 4), (12, 4), (96, 0xFFFF)]
    bad = bytes(8) + b"\xff\x10\x00" + b"abc"
    res = d.decode(ipfix(1, tset(310, fields), data_set(310, bad)), "e")
    assert res.error is not None and d.stats["decode_errors.internal"] == 0


def test_non_standard_lengths_and_ipv6() -> None:
    d = Decoder()
    fields = [(27, 16), (28, 16), (7, 2), (11, 2), (4, 1), (1, 3), (2, 6)]  # 3- and 6-octet counters
    rec = bytes.fromhex("fd00" + "00" * 13 + "01") + bytes.fromhex("fd00" + "00" * 13 + "02")
    rec += struct.pack("!HHB", 5000, 104, 6) + (70000).to_bytes(3, "big") + (12).to_bytes(6, "big")
    (b,) = d.decode(ipfix(1, tset(320, fields), data_set(320, rec)), "e").batches
    assert list(b.core()) == [(bytes.fromhex("fd00" + "00" * 13 + "01"), bytes.fromhex("fd00" + "00" * 13 + "02"),
                               5000, 104, 6, 70000, 12)]
    assert flow_records(b)[0].src == "fd00::1"


def test_mac_and_vlan_fields() -> None:
    d = Decoder()
    fields = [*FLOW_FIELDS, (56, 6), (80, 6), (243, 2)]
    rec = REC + bytes.fromhex("5842e4121021") + bytes.fromhex("e4434b122010") + struct.pack("!H", 10)
    (b,) = d.decode(ipfix(1, tset(330, fields), data_set(330, rec)), "e").batches
    fr = flow_records(b)[0]
    assert (fr.src_mac, fr.dst_mac, fr.vlan) == ("58:42:e4:12:10:21", "e4:43:4b:12:20:10", 10)
    t = FlowTable()
    t.add(b)
    assert list(t.l2.values()) == [(bytes.fromhex("5842e4121021"), bytes.fromhex("e4434b122010"), 10)]


def test_bad_templates_are_decode_errors() -> None:
    for rec in (
        struct.pack("!HH", 300, 1) + struct.pack("!HH", 8, 0),  # zero-length field
        struct.pack("!HH", 200, 1) + struct.pack("!HH", 8, 4),  # id below 256
        struct.pack("!HH", 300, 600),  # absurd field count
        struct.pack("!HH", 300, 3) + struct.pack("!HH", 8, 4),  # truncated
    ):
        d = Decoder()
        res = d.decode(ipfix(1, ipfix_template_set(rec)), "e")
        assert res.error is not None and d.template_count() == 0
        assert d.stats["decode_errors.internal"] == 0


def test_v9_zero_field_template_and_truncations() -> None:
    d = Decoder()
    assert d.decode(v9(1, v9_template_set(300, [])), "e").error is not None
    full = v9(1, v9_template_set(300, [(8, 4), (12, 4)]))
    for n in range(len(full)):
        d.decode(full[:n], "e")
    assert d.stats["decode_errors.internal"] == 0


def test_sampling_from_v9_options_by_sampler_id() -> None:
    d = Decoder()
    opts = v9_options_template_set(400, [(1, 4)], [(48, 2), (49, 1), (50, 4)])
    tpl = v9_template_set(300, [(8, 4), (12, 4), (1, 4), (2, 4), (48, 2)])
    opt_data = data_set(400, struct.pack("!IHBI", 0, 1, 2, 100), struct.pack("!IHBI", 0, 2, 2, 10))
    d.decode(v9(7, opts, tpl, opt_data), "e")
    recs = [bytes([10, 0, 0, 1, 10, 0, 0, 2]) + struct.pack("!IIH", 50, 1, sid) for sid in (1, 2, 3)]
    res = d.decode(v9(7, data_set(300, *recs)), "e")
    t = FlowTable()
    for b in res.batches:
        t.add(b)
    totals = sorted((b.rate, sum(r[5] for r in b.core())) for b in res.batches)
    assert totals == [(1, 50), (10, 50), (100, 50)]  # sampler 3 has no options: unscaled
    assert sum(v[0] for v in t.rows.values()) == 50 * 100 + 50 * 10 + 50


def test_sampling_from_ipfix_options_and_static_override() -> None:
    d = Decoder()
    opt = ipfix_template_set(ipfix_template_record(500, [(149, 4), (305, 4), (306, 4)], scope=1), options=True)
    d.decode(ipfix(1, opt, data_set(500, struct.pack("!III", 1, 1, 99)), tset(300)), "e")
    (b,) = d.decode(ipfix(1, data_set(300, REC)), "e").batches
    assert b.rate == 100
    fixed = Decoder(sampling_overrides={"e": 7})
    (b,) = fixed.decode(ipfix(1, tset(300), data_set(300, REC)), "e").batches
    assert b.rate == 7 and flow_records(b)[0].bytes == 7000


def test_caps_on_exporters_and_templates() -> None:
    d = Decoder(max_exporters=2, max_templates_per_exporter=3)
    for i in range(5):
        d.decode(ipfix(1, tset(300)), f"192.0.2.{i}")
    assert len(d.exporters) == 2 and d.stats["exporters_over_cap"] == 3
    for tid in range(300, 310):
        d.decode(ipfix(1, tset(tid)), "192.0.2.0")
    # full: the oldest template that never had data makes room for the newest
    assert sorted(t for _v, _d, t in d.exporters["192.0.2.0"].templates) == [307, 308, 309]
    assert d.stats["templates_evicted"] == 7 and d.stats["templates_over_cap"] == 0


def test_table_cap_counts_overflow() -> None:
    d = Decoder()
    recs = [flow_record("10.0.0.1", "10.0.0.2", 1000 + i, 80, 6, 1, 1) for i in range(50)]
    (b,) = d.decode(ipfix(1, tset(300), data_set(300, *recs)), "e").batches
    t = FlowTable(max_keys=10)
    t.add(b)
    assert len(t) == 10 and t.overflow_records == 40


def test_state_survives_restart() -> None:
    d = Decoder()
    opt = ipfix_template_set(ipfix_template_record(500, [(149, 4), (34, 4)], scope=1), options=True)
    d.decode(ipfix(1, tset(300), opt, data_set(500, struct.pack("!II", 1, 50))), "e")
    state = json.loads(json.dumps(d.dump_state()))
    d2 = Decoder()
    assert d2.load_state(state) == 2
    (b,) = d2.decode(ipfix(1, data_set(300, REC)), "e").batches
    assert b.rate == 50 and b.count == 1
    assert Decoder().load_state({"e": {"templates": [[10, 1, 300, 0, "junk"]]}}) == 0
    assert Decoder().load_state("garbage") == 0


def test_absurd_time_field_does_not_break_facts() -> None:
    # found by fuzzing: a 16-octet flowStartMilliseconds is a number too large for a float
    d = Decoder()
    fields = [*FLOW_FIELDS, (152, 16)]
    res = d.decode(ipfix(1, tset(340, fields), data_set(340, REC + b"\xff" * 16)), "e")
    (fr,) = flow_records(res.batches[0])
    assert fr.start == fr.end == 1_700_000_000
