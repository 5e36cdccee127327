"""What the hub needs in device records and events (issue 18): switch identity, forgotten, last_seen refresh."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from collectors.cli.parse import parse
from collectors.facts import Snapshot, SwitchInfo
from sensor.classify.classifier import Classifier
from sensor.classify.rules import load_rules
from sensor.correlate.engine import Correlator, CorrelatorConfig, Output
from sensor.correlate.store import load_state, save_state
from sensor.correlate.tracker import TrackerSettings
from sensor.correlate.view import Settings
from tests.correlate.factory import DEVICE_PORT, DIST_BASE, PUMP, SW1_BASE, WS, dist, sw1

RULES = load_rules()


def make(**kw: float) -> Correlator:
    return Correlator(CorrelatorConfig(tracker=TrackerSettings(absence=15, intervals={"sw1": 15, "dist": 15},
                                                               forget_after=100),
                                       view=Settings(switch_hosts={"dist": "198.18.0.1"}), **kw),
                      Classifier(RULES))


def test_every_attachment_names_its_switch_chassis_mac() -> None:
    out = make().ingest([dist(10), sw1(11)], now=12)
    att = out.records[PUMP].attachment
    assert att is not None and (att.switch, att.switch_id) == ("sw1", SW1_BASE)
    ev = next(e for e in out.events if e.mac == PUMP)
    assert ev.attachment is not None and ev.attachment.switch_id == SW1_BASE


def test_forgetting_a_device_is_an_event_beside_the_empty_record() -> None:
    c = make()
    c.ingest([sw1(0)], now=0)
    where = {m: p for m, p in DEVICE_PORT.items() if m != WS}
    c.ingest([sw1(15, where)], now=15)  # disappeared
    out = c.ingest([sw1(200, where)], now=200)
    assert (WS, None) in out.devices
    forgotten = [e for e in out.events if e.event == "forgotten"]
    assert [e.mac for e in forgotten] == [WS] and forgotten[0].at.timestamp() == 200


def test_last_seen_is_refreshed_at_the_stated_granularity() -> None:
    c = make(last_seen_refresh=100)
    assert len(c.ingest([sw1(0)], now=0).devices) == 6
    assert c.ingest([sw1(15)], now=15).devices == []  # only last_seen moved, by less than the refresh
    assert c.ingest([sw1(90)], now=90).devices == []
    out = c.ingest([sw1(105)], now=105)
    assert len(out.devices) == 6 and out.events == []  # last_seen 105 s later: published again
    assert all(rec.last_seen.timestamp() == 105 for _, rec in out.devices if rec is not None)
    assert c.ingest([sw1(120)], now=120).devices == []


def _no_base_mac(snap: Snapshot) -> Snapshot:
    """What the CLI and most NETCONF collectors give: a system name, no bridge (base) MAC."""
    assert snap.system is not None
    return msgspec.structs.replace(snap, system=msgspec.structs.replace(snap.system, base_mac=None))


def _dist_sees_sw1_as(chassis_id: str, t: float = 10) -> Snapshot:
    snap = dist(t)
    return msgspec.structs.replace(snap, lldp=tuple(msgspec.structs.replace(n, chassis_id=chassis_id)
                                                    for n in snap.lldp))


def _switch_id(out: Output, mac: str = PUMP) -> str | None:
    att = out.records[mac].attachment
    assert att is not None and att.switch == "sw1"
    return att.switch_id


def test_a_switch_without_base_mac_is_named_by_the_chassis_id_its_neighbours_see() -> None:
    out = make().ingest([dist(10), _no_base_mac(sw1(11))], now=12)
    assert _switch_id(out) == SW1_BASE
    ev = next(e for e in out.events if e.mac == PUMP)
    assert ev.attachment is not None and ev.attachment.switch_id == SW1_BASE


def test_two_sensors_give_one_switch_one_id_however_each_knows_it() -> None:
    # Sensor a polls the access switch by SNMP (bridge address); sensor b polls it by CLI under another
    # name (no bridge address) and the distribution switch, whose LLDP table names it by sysName.
    a = make().ingest([sw1(11)], now=12)
    b_acc = msgspec.structs.replace(_no_base_mac(sw1(11, name="b-acc")),
                                    system=SwitchInfo(switch="b-acc", sys_name="sw1"))
    b = make().ingest([dist(10), b_acc], now=12)
    att_a, att_b = a.records[PUMP].attachment, b.records[PUMP].attachment
    assert att_a is not None and att_b is not None
    assert (att_a.switch, att_b.switch) == ("sw1", "b-acc")
    assert att_a.switch_id == att_b.switch_id == SW1_BASE


@pytest.mark.parametrize(("chassis_id", "expected"), [
    ("9418.8201.0000", SW1_BASE),  # a MAC in any spelling: the one form used everywhere
    ("94-18-82-01-00-00", SW1_BASE),
    ("sw1.example.org", "lldp:sw1.example.org"),  # subtype local, a name, an address: prefixed, as sent
    ("198.18.0.11", "lldp:198.18.0.11"),
])
def test_the_chassis_id_is_normalized(chassis_id: str, expected: str) -> None:
    out = make().ingest([_dist_sees_sw1_as(chassis_id), _no_base_mac(sw1(11))], now=12)
    assert _switch_id(out) == expected


def test_a_bridge_address_that_names_no_one_switch_gives_way_to_the_chassis_id() -> None:
    snap = sw1(11)
    assert snap.system is not None
    zero = msgspec.structs.replace(snap, system=msgspec.structs.replace(snap.system, base_mac="00:00:00:00:00:00"))
    assert _switch_id(make().ingest([dist(10), zero], now=12)) == SW1_BASE
    assert _switch_id(make().ingest([_dist_sees_sw1_as("00:00:00:00:00:00"), _no_base_mac(sw1(11))],
                                    now=12)) is None


def test_the_switch_id_stays_when_a_later_poll_does_not_say_it() -> None:
    c = make()
    assert _switch_id(c.ingest([dist(10), _no_base_mac(sw1(11))], now=12)) == SW1_BASE
    # dist's next LLDP table is empty (a timeout) and sw1 answers nothing about itself: the id is kept,
    # and no record is published again for it.
    out = c.ingest([msgspec.structs.replace(dist(25), lldp=()),
                    msgspec.structs.replace(sw1(26), system=None)], now=27)
    assert _switch_id(out) == SW1_BASE and out.devices == []


def test_a_device_behind_an_unpolled_edge_switch_names_the_polled_switch_that_sees_it() -> None:
    # Only dist is polled: sw1 is an edge switch known from dist's LLDP table. The attachment is dist's
    # port towards it, so its switch_id is dist's, never sw1's (switch, switch_id and port agree).
    out = make().ingest([dist(10)], now=12)
    att = out.records[PUMP].attachment
    assert att is not None and (att.switch, att.port, att.switch_id) == ("dist", "ge1", DIST_BASE)
    assert "edge switch not polled" in att.flags


def test_the_switch_id_survives_a_restart(tmp_path: Path) -> None:
    c = make()
    assert _switch_id(c.ingest([dist(10), _no_base_mac(sw1(11))], now=12)) == SW1_BASE
    save_state(tmp_path / "correlation.state", c.state)
    again = Correlator(c.settings, Classifier(RULES), load_state(tmp_path / "correlation.state"))
    # the first poll after the restart: sw1 only, saying nothing about itself
    out = again.ingest([msgspec.structs.replace(sw1(26), system=None)], now=27)
    assert _switch_id(out) == SW1_BASE and out.devices == []


# What lldpd on the lab's sw1 sends as its chassis id: a port MAC, not br0's bridge address (SW1_BASE).
SW1_CHASSIS = "94:18:82:01:00:01"
RECORDED_CHASSIS = Path(__file__).parents[1] / "cli" / "outputs" / "linux__lldpcli_json0_show_chassis.json"


def _cli_polled(snap: Snapshot) -> Snapshot:
    """sw1 as the CLI platform linux reads it: its system from the recorded `lldpcli show chassis`."""
    t = parse("linux", "lldpcli -f json0 show chassis", RECORDED_CHASSIS.read_text(), switch=snap.switch)
    return msgspec.structs.replace(snap, system=t.system, method="cli")


def _with_chassis(snap: Snapshot, chassis_id: str | None) -> Snapshot:
    assert snap.system is not None
    return msgspec.structs.replace(snap, system=msgspec.structs.replace(snap.system, lldp_chassis_id=chassis_id))


def test_a_cli_polled_switch_without_polled_neighbours_is_named_by_its_own_chassis_id() -> None:
    out = make().ingest([_cli_polled(sw1(11))], now=12)  # no base MAC, no polled switch sees it
    assert _switch_id(out) == SW1_CHASSIS


def test_the_chassis_id_outranks_the_bridge_mac_so_every_sensor_agrees() -> None:
    # sw1's bridge MAC differs from its chassis id (as in the lab). Sensor a reads both over SNMP,
    # sensor b only its own chassis over CLI, sensor c neither but dist's LLDP table: one id for all.
    a = make().ingest([_with_chassis(sw1(11), SW1_CHASSIS)], now=12)
    b = make().ingest([_cli_polled(sw1(11))], now=12)
    c = make().ingest([_dist_sees_sw1_as(SW1_CHASSIS), _no_base_mac(sw1(11))], now=12)
    assert _switch_id(a) == _switch_id(b) == _switch_id(c) == SW1_CHASSIS
    # without any chassis id, the bridge MAC still names it
    assert _switch_id(make().ingest([sw1(11)], now=12)) == SW1_BASE


def test_a_known_chassis_id_is_kept_when_a_poll_gives_only_the_bridge_mac() -> None:
    c = make()
    assert _switch_id(c.ingest([_dist_sees_sw1_as(SW1_CHASSIS), sw1(11)], now=12)) == SW1_CHASSIS
    # dist's next LLDP table is empty: sw1 answers with its bridge MAC only; the id does not flip
    out = c.ingest([msgspec.structs.replace(dist(25), lldp=()), sw1(26)], now=27)
    assert _switch_id(out) == SW1_CHASSIS and out.devices == []
    # a new chassis id (the switch replaced) is taken as soon as one is seen
    assert _switch_id(c.ingest([_with_chassis(sw1(40), "70:10:6f:00:00:01")], now=41)) == "70:10:6f:00:00:01"
