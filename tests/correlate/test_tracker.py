"""Devices over time: events, absence counted in polls, IP bindings, MLAG, persistence."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from collectors.facts import FdbEntry, Snapshot
from sensor.classify.classifier import Classifier
from sensor.classify.rules import load_rules
from sensor.correlate.engine import Correlator, CorrelatorConfig
from sensor.correlate.store import load_state, save_state
from sensor.correlate.tracker import TrackerSettings
from sensor.correlate.view import Settings
from tests.correlate.factory import DEVICE_PORT, IPS, MON, PC, PHONE, PUMP, WS, dist, sw1

RULES = load_rules()


def make(absence: float = 30, flap: float = 600, **kw: float) -> Correlator:
    ts = TrackerSettings(absence=absence, intervals={"sw1": 15, "dist": 15, "a": 15, "b": 15}, flap_window=flap, **kw)
    return Correlator(CorrelatorConfig(tracker=ts), Classifier(RULES))


def kinds(out) -> list[tuple[str, str]]:
    return [(e.event, e.mac) for e in out.events]


def test_first_batch_gives_one_appeared_per_device_with_attachment_and_ips() -> None:
    c = make()
    out = c.ingest([dist(10), sw1(11)], now=12)
    assert sorted(kinds(out)) == sorted(("appeared", m) for m in [PUMP, MON, WS, PHONE, PC, "00:1e:7a:12:10:26"])
    ev = next(e for e in out.events if e.mac == PUMP)
    assert ev.attachment is not None and (ev.attachment.switch, ev.attachment.port) == ("sw1", "ge1")
    assert ev.ips == (IPS[PUMP],) and ev.vendor == "Baxter International Inc" and ev.device_class == "infusion_pump"
    # a steady network publishes nothing more
    out = c.ingest([sw1(26)], now=27)
    assert out.events == [] and out.devices == []
    out = c.ingest([dist(27)], now=28)
    assert out.events == [] and out.devices == []


def test_sw1_before_dist_adds_ips_without_ip_changed_storm() -> None:
    c = make()
    c.ingest([sw1(10)], now=10)
    out = c.ingest([dist(11)], now=11)
    assert out.events == []  # first addresses are not a change
    assert {m for m, _ in out.devices} == {PUMP, MON, WS, PHONE, PC}


def test_move_gives_exactly_one_moved_event() -> None:
    c = make()
    c.ingest([dist(10), sw1(10)], now=10)
    where = dict(DEVICE_PORT, **{PUMP: "ge5"})
    out = c.ingest([sw1(25, where)], now=25)
    assert kinds(out) == [("moved", PUMP)]
    ev = out.events[0]
    assert ev.previous_attachment.port == "ge1" and ev.attachment.port == "ge5"
    assert [m for m, _ in out.devices] == [PUMP]
    for t in (40, 55):
        assert c.ingest([sw1(t, where)], now=t).events == []


def test_back_and_forth_is_one_flapping_event_not_a_storm() -> None:
    c = make(flap=600)
    c.ingest([sw1(0)], now=0)
    evs = []
    for i in range(1, 9):
        where = dict(DEVICE_PORT, **{PUMP: "ge5" if i % 2 else "ge1"})
        evs += kinds(c.ingest([sw1(i * 15, where)], now=i * 15))
    assert evs == [("moved", PUMP), ("flapping", PUMP)]
    rec = c.ingest([sw1(200, where)], now=200).records[PUMP]
    assert "flapping" in rec.flags


def test_silent_device_disappears_once_after_absence_counted_in_polls() -> None:
    c = make(absence=30)  # 2 polls of sw1 at 15 s
    c.ingest([dist(0), sw1(0)], now=0)
    where = {m: p for m, p in DEVICE_PORT.items() if m != MON}
    assert c.ingest([sw1(15, where)], now=15).events == []
    # sw1 unreachable for an hour: no polls, no disappearance
    out = c.ingest([dist(3600)], now=3600)
    assert all(e.event != "disappeared" for e in out.events)
    out = c.ingest([sw1(3615, where)], now=3615)
    assert kinds(out) == [("disappeared", MON)]
    assert out.records[MON].present is False and "disappeared" in out.records[MON].flags
    for t in (3630, 3645):
        assert c.ingest([sw1(t, where)], now=t).events == []
    # it comes back: appeared again
    out = c.ingest([sw1(3660)], now=3660)
    assert kinds(out) == [("appeared", MON)] and "returned" in out.events[0].detail


def test_ip_moving_to_another_mac_closes_the_old_binding() -> None:
    c = make()
    c.ingest([dist(0), sw1(0)], now=0)
    arp = {m: ip for m, ip in IPS.items() if m != PUMP}
    arp[WS] = IPS[PUMP]  # the pump's address now answers from the workstation
    arp[MON] = IPS[MON]
    out = c.ingest([dist(20, arp=arp)], now=20)
    recs = out.records
    assert [i.ip for i in recs[PUMP].ips] == []
    # the workstation keeps its own address (ARP entries age; bindings end when the IP moves)
    assert [i.ip for i in recs[WS].ips] == [IPS[PUMP], IPS[WS]]
    changed = {e.mac: e for e in out.events if e.event == "ip_changed"}
    assert set(changed) == {PUMP, WS}
    assert changed[PUMP].previous_ips == (IPS[PUMP],) and changed[PUMP].ips == ()


def test_several_ips_per_mac_v4_and_v6() -> None:
    c = make()
    out = c.ingest([sw1(0), dist(0, arp={PUMP: "198.18.10.21"})], now=0)
    d = dist(10, arp={})
    d = msgspec.structs.replace(d, arp=(*dist(10).arp,
                                        *[msgspec.structs.replace(dist(10).arp[0], ip="fd00:18:10::21")]))
    out = c.ingest([d], now=10)
    ips = out.records[PUMP].ips
    assert [(i.ip, i.version) for i in ips] == [("198.18.10.21", 4), ("fd00:18:10::21", 6)]
    assert [e.event for e in out.events if e.mac == PUMP] == ["ip_changed"]


def _mlag(switch: str, t: float) -> Snapshot:
    return Snapshot(switch=switch, taken_at=t, method="t",
                    fdb=(FdbEntry(switch=switch, ifindex=10, vlan=20, mac=MON),))


def test_mlag_pair_does_not_flap() -> None:
    c = make()
    out = c.ingest([_mlag("b", 0), _mlag("a", 1)], now=1)
    first = out.records[MON].attachment.switch
    for i in range(2, 12):
        out = c.ingest([_mlag("a" if i % 2 else "b", i * 15)], now=i * 15)
        assert out.events == []
        assert out.records[MON].attachment.switch == first


def test_state_survives_a_restart(tmp_path: Path) -> None:
    c = make()
    c.ingest([dist(0), sw1(0)], now=0)
    p = tmp_path / "correlation.state"
    save_state(p, c.state)
    c2 = Correlator(c.settings, Classifier(RULES), load_state(p))
    out = c2.ingest([dist(15), sw1(15)], now=15)
    assert out.events == [] and out.devices == []  # nothing new, nothing republished
    assert out.records[PUMP].first_seen.timestamp() == 0
    assert [i.ip for i in out.records[PUMP].ips] == [IPS[PUMP]]


def test_corrupt_state_starts_afresh(tmp_path: Path) -> None:
    p = tmp_path / "correlation.state"
    p.write_bytes(b"\x00garbage")
    assert load_state(p).devices == {}
    assert (tmp_path / "correlation.bad").exists()


def test_full_refresh_and_forgetting() -> None:
    c = Correlator(CorrelatorConfig(tracker=TrackerSettings(absence=15, intervals={"sw1": 15}, forget_after=100),
                                    view=Settings(switch_hosts={"dist": "198.18.0.1"}), full_refresh=1000),
                   Classifier(RULES))
    assert len(c.ingest([sw1(0)], now=0).devices) == 6  # first run: everything
    assert c.ingest([sw1(15)], now=15).devices == []
    out = c.ingest([sw1(30)], now=1001)
    assert out.full_refresh and len(out.devices) == 6
    where = {m: p for m, p in DEVICE_PORT.items() if m != WS}
    out = c.ingest([sw1(1015, where)], now=1015)
    assert kinds(out) == [("disappeared", WS)]
    out = c.ingest([sw1(1200, where)], now=1200)
    assert (WS, None) in out.devices and WS not in c.state.devices


def test_lldp_med_inventory_reaches_the_record_and_its_reasons() -> None:
    c = make()
    s = sw1(11)
    lldp = tuple(msgspec.structs.replace(n, med_class="endpoint-3", med_manufacturer="Cisco Systems, Inc.",
                                         med_model="CP-8845", med_serial="FCH2151LAB4")
                 if n.chassis_id == PHONE else n for n in s.lldp)
    out = c.ingest([dist(10), msgspec.structs.replace(s, lldp=lldp)], now=12)
    rec = out.records[PHONE]
    assert rec.neighbour is not None
    assert (rec.neighbour.med_class, rec.neighbour.manufacturer, rec.neighbour.model) == (
        "endpoint-3", "Cisco Systems, Inc.", "CP-8845")
    assert rec.classification.device_class == "ip_phone"
    assert any(r.startswith('LLDP-MED model "CP-8845"') for r in rec.classification.reasons)
    # Cisco is also the MAC's registry organisation: said once, not counted twice
    assert any("agrees with the MAC's registry entry" in r for r in rec.classification.reasons)
    # the PC behind the phone does not inherit the phone's inventory
    assert out.records[PC].neighbour is None


@pytest.mark.parametrize("n", [0, 1, 15, 16, 2048, 2049, 70_000])
def test_state_saved_in_pieces_is_the_whole_encoding(tmp_path: Path, n: int) -> None:
    """The state file is written in pieces (a campus's state was a 30 MB object at every save);
    the file is byte for byte the state encoded whole, across msgpack's map header sizes."""
    from sensor.correlate.tracker import AttState, DeviceState, IpState, TrackerState

    att = AttState(switch="sw1", ifindex=3, port="Gi1/0/3", vlan=20, confidence=0.95, evidence=("why",),
                   first_seen=1.0, last_seen=2.0)
    state = TrackerState(
        devices={f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}": DeviceState(
            mac=f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}", first_seen=float(i), last_seen=i + 0.5,
            attachment=att if i % 2 else None, moves=(1.0, 2.0) if i % 7 == 0 else ()) for i in range(n)},
        bindings={f"10.0.{i >> 8}.{i & 255}": IpState(mac="02:00:00:00:00:01", router="core", first_seen=1.0,
                                                        last_seen=2.0) for i in range(n // 2)},
        last_full_refresh=5.0)
    p = tmp_path / "correlation.state"
    save_state(p, state)
    assert p.read_bytes() == msgspec.msgpack.encode(state)
    assert load_state(p) == state


def _sw2(t: float, where: dict[str, str]) -> Snapshot:
    """A second access switch like sw1 (own name and bridge MAC) under the same dist."""
    snap = sw1(t, where, name="sw2")
    assert snap.system is not None
    return msgspec.structs.replace(snap, system=msgspec.structs.replace(snap.system, base_mac="94:18:82:03:00:00"),
                                   fdb=tuple(e for e in snap.fdb if e.status != "self"))


def test_lldp_device_moving_between_switches_is_one_record_in_the_campus_order() -> None:
    # bench/campus.py: the old access switch is polled after the phone left it, the new one a batch
    # later; in between no switch shows the phone. Its record went out there without its LLDP
    # neighbour (and the class confidence of its LLDP clues) and again at the new port with both back.
    c = make(absence=3600)
    c.ingest([dist(0), sw1(0), _sw2(0, {})], now=0)
    before = c.ingest([sw1(15)], now=15).records[PHONE]
    assert before.neighbour is not None
    left = {m: p for m, p in DEVICE_PORT.items() if m != PHONE}
    published = []
    for batch in ([sw1(30, left)], [_sw2(31, {PHONE: "ge5"})], [sw1(45, left), _sw2(46, {PHONE: "ge5"})]):
        out = c.ingest(batch, now=batch[-1].taken_at)
        published += [r for m, r in out.devices if m == PHONE]
    assert len(published) == 1
    rec = published[0]
    assert rec.attachment is not None and (rec.attachment.switch, rec.attachment.port) == ("sw2", "ge5")
    assert rec.neighbour == before.neighbour and rec.classification == before.classification


def test_lldp_device_that_stops_speaking_lldp_on_its_port_loses_its_neighbour() -> None:
    # Seen on its port without its LLDP: a real change, published (only the unseen keep theirs).
    c = make(absence=3600)
    c.ingest([dist(0), sw1(0)], now=0)
    out = c.ingest([sw1(15, phone_lldp=False)], now=15)
    rec = dict(out.devices)[PHONE]
    assert rec is not None and rec.neighbour is None and rec.attachment is not None
