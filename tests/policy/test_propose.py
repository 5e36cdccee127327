"""The observed matrix and the proposal, pure: aggregation, rarity, decisions kept, stale."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from sensor.config import parse_config
from sensor.errors import ConfigError
from sensor.flows.source import FlowSource
from sensor.policy.apps import application, service_text
from sensor.policy.document import dump_policy, parse_policy
from sensor.policy.match import Matcher, simulate
from sensor.policy.matrix import Matrix, load_matrix
from sensor.policy.propose import Placer, inventory, propose, served_servers
from sensor.policy.zones import Zoning
from tests.policy import scenario as sc

CFG = parse_config('[sensor]\nsite = "lab"\nstate_dir = "/tmp/x"\n[policy]\nmin_observations = 3\n',
                   check_files=False)


def matrix(n: int = 6, start: float = 1_800_000_000.0) -> Matrix:
    m = Matrix(window=30 * 86400)
    for end, convs in sc.windows(n, start):
        m.add_window(convs, end)
    return m


def placer(m: Matrix) -> Placer:
    devices = inventory(sc.device_records())
    return Placer(Zoning.from_config(CFG.policy, sc.INTERNAL, served_servers(m.entries, devices)), devices)


def test_applications() -> None:
    assert application(6, 2575) == "HL7 MLLP" and application(6, 104) == "DICOM" and application(6, 11112) == "DICOM"
    assert application(17, 53) == "domain" and application(6, 3389) == "ms-wbt-server"
    assert service_text(6, 40000) == "tcp/40000" and service_text(1, 0) == "icmp"


def test_matrix_counts_each_conversation_once_and_expires() -> None:
    m = matrix()
    # the workstation -> monitor conversation is reported by both devices: counted once per window
    e = m.index[("10.40.0.10", "10.30.0.31", 6, 443)]
    assert (e.windows, e.flows, e.bytes) == (4, 4, 4 * 3000)
    assert e.client_device == "3c:52:82:00:00:10" and e.server_device == "00:09:fb:00:00:31"
    hl7 = m.index[("10.30.0.21", sc.PHARMACY, 6, 2575)]
    assert hl7.windows == 6 and hl7.bytes == sum(5000 + i + 800 for i in range(6))
    assert len(m.index) == 11
    assert m.expire(1_800_000_000.0 + 31 * 86400) == 11 and not m.index


def test_flow_source_persists_the_matrix(tmp_path: Path) -> None:
    cfg = parse_config(f'[sensor]\nsite = "lab"\nstate_dir = "{tmp_path}"\n[flows]\nallowed_exporters = ["127.0.0.1"]\n'
                       'internal = ["10.0.0.0/8"]\n', check_files=False)
    assert cfg.flows is not None
    src = FlowSource(cfg.flows, tmp_path, directory=sc.directory(), policy=cfg.policy)
    for i in range(2):
        src.window(sc.table(sc.window_records(i)), 1_800_000_000.0 + i * 300, 1_800_000_300.0 + i * 300)
    src.persist()
    again = load_matrix(tmp_path)
    assert again.index[("10.30.0.21", sc.PHARMACY, 6, 2575)].windows == 2
    assert len(again.index) == 10


def test_proposal_least_privilege_and_review() -> None:
    m = matrix()
    p = propose(m.entries, placer(m), CFG.policy, now=1_800_002_000.0, site="lab")
    rules = {r.id: r for r in p.doc.rule}
    hl7 = rules[f"zone:medication_delivery>host:{sc.PHARMACY}/32:tcp/2575"]
    assert hl7.kind == "allow" and hl7.state == "proposed" and hl7.application == "HL7 MLLP"
    assert hl7.evidence.devices == 3 and hl7.evidence.observations == 18
    assert "every device of zone medication_delivery" in hl7.why
    # one workstation of two reaches one monitor: hosts, not zones
    assert "host:10.40.0.10/32>host:10.30.0.31/32:tcp/443" in rules
    # a one-off to the outside is listed for review, not allowed
    out = rules[f"host:10.30.0.21/32>host:{sc.OUTSIDE}/32:tcp/443"]
    assert out.kind == "review" and "rare" in out.why
    # never any-to-any: every end is a zone of devices or addresses
    assert all(ep != "zone:external" for r in p.doc.rule for ep in r.source + r.destination)
    assert p.out_of_scope == 1  # workstation SMB to the file server touches no protected zone
    zones = p.doc.zones()
    assert zones["clinical_servers"].addresses == [f"{sc.PHARMACY}/32", f"{sc.CENTRAL}/32"]  # shown by the flows
    assert zones["medication_delivery"].devices == 3
    assert len(p.new) == 5


def test_reproposal_keeps_decisions_adds_new_and_marks_stale() -> None:
    m = matrix()
    first = propose(m.entries, placer(m), CFG.policy, now=1_800_002_000.0)
    text = dump_policy(first.doc)
    hl7 = f'id = "zone:medication_delivery>host:{sc.PHARMACY}/32:tcp/2575"'
    assert hl7 in text
    # biomed approves the HL7 rule with a ticket and a comment, edits the file as text
    head, tail = text.split(hl7)
    tail = tail.replace('state = "proposed"', 'state = "approved"', 1).replace('by = ""', 'by = "biomed:ana"', 1)
    tail = tail.replace('ticket = ""', 'ticket = "CHG-1042"', 1).replace('comment = ""', 'comment = "pharmacy"', 1)
    edited = parse_policy(head + hl7 + tail, "proposed.toml")
    # 20 days later: only the monitors are seen again, and a new flow appears
    later = 1_800_002_000.0 + 20 * 86400
    m2 = matrix()
    for end, convs in sc.windows(1, later - 300):
        m2.add_window([c for c in convs if c.ip in sc.MONITORS or c.ip == sc.CENTRAL], end)
    from sensor.flows.model import Conversation, DeviceConversations

    m2.add_window([DeviceConversations(device="00:09:fb:00:00:32", mac="00:09:fb:00:00:32", ip="10.30.0.32",
                                       window_start=datetime.fromtimestamp(later - 300, UTC), window_end=datetime.fromtimestamp(later, UTC), bytes_out=10, bytes_in=10,
                                       conversations=[Conversation(sc.CENTRAL, 123, 17, "out", 10, 10, 1, 1, 1)])]
                  * 1, later)
    second = propose(m2.entries, placer(m2), CFG.policy, now=later, previous=[edited])
    rules = {r.id: r for r in second.doc.rule}
    kept = rules[f"zone:medication_delivery>host:{sc.PHARMACY}/32:tcp/2575"]
    assert (kept.state, kept.by, kept.ticket, kept.comment) == ("approved", "biomed:ana", "CHG-1042", "pharmacy")
    assert kept.stale  # last seen 20 days ago, stale_after 14 days
    assert not rules[f"zone:patient_monitoring>host:{sc.CENTRAL}/32:tcp/24005"].stale
    new = [r for r in second.doc.rule if r.id in second.new]
    assert [r.proto for r in new] == ["udp"] and new[0].state == "proposed" and new[0].kind == "review"
    assert second.doc.policy.version == edited.policy.version + 1
    # the written file reads back to the same document
    assert parse_policy(dump_policy(second.doc), "p.toml") == second.doc


def test_simulate_lists_what_the_approved_policy_would_block() -> None:
    m = matrix()
    doc = propose(m.entries, placer(m), CFG.policy, now=1_800_002_000.0).doc
    approved = msgspec.structs.replace(doc, rule=[
        msgspec.structs.replace(r, state="approved", by="biomed") for r in doc.rule if r.kind == "allow"])
    blocked, in_scope, allowed = simulate(approved, m.entries)
    assert (in_scope, allowed) == (10, 9)
    (b,) = blocked
    assert (b.client, b.server, b.port, b.observations) == ("10.30.0.21", sc.OUTSIDE, 443, 1)
    v = Matcher(approved).check("10.40.0.11", "10.30.0.21", 6, 443)  # never seen: blocked
    assert v.in_scope and v.rule is None
    v = Matcher(approved).check("10.30.0.22", sc.PHARMACY, 6, 2575)
    assert v.rule is not None and v.rule.application == "HL7 MLLP"
    assert not Matcher(approved).check("10.40.0.11", sc.FILES, 6, 445).in_scope
    # nothing approved: everything in scope is blocked
    blocked, _, allowed = simulate(doc, m.entries)
    assert allowed == 0 and len(blocked) == 10


def test_policy_file_errors_name_line_and_key() -> None:
    m = matrix()
    text = dump_policy(propose(m.entries, placer(m), CFG.policy, now=1_800_002_000.0).doc)
    bad = text.replace('state = "proposed"', 'state = "aproved"', 1)
    with pytest.raises(ConfigError) as e:
        parse_policy(bad, "policy.toml")
    line = bad.splitlines().index('state = "aproved"') + 1
    assert e.value.problems[0].startswith(f'policy.toml:{line}: rule[1].state: expected one of "proposed"')
    bad = text.replace('state = "proposed"', 'state = "approved"', 1)
    with pytest.raises(ConfigError) as e:
        parse_policy(bad, "policy.toml")
    assert "rule[1]" in e.value.problems[0] and "say who decided" in e.value.problems[0]


def test_zone_counts_devices_not_addresses() -> None:
    """A pump with IPv4 and IPv6 (as in the lab's segment) is one device of its zone, with two addresses."""
    from sensor.policy.matrix import Entry

    pump_mac = sc.PUMPS["10.30.0.21"]
    recs = [r for r in sc.device_records() if r["mac"] == pump_mac]
    recs[0]["ips"].append({"ip": "fd00:30::21"})
    devices = inventory(recs)
    pl = Placer(Zoning.from_config(CFG.policy, [*sc.INTERNAL, "fd00::/8"], {}), devices)
    t = 1_800_000_000.0
    entries = [Entry("10.30.0.21", sc.PHARMACY, 6, 2575, pump_mac, None, 5000, 3, 4, t, t + 900),
               Entry("fd00:30::21", "fd00:50::5", 6, 2575, pump_mac, None, 5000, 3, 4, t, t + 900)]
    doc = propose(entries, pl, CFG.policy, now=t + 1000).doc
    zone = doc.zones()["medication_delivery"]
    assert sorted(zone.addresses) == ["10.30.0.21/32", "fd00:30::21/128"]
    assert zone.devices == 1
