"""Attachment and uplink detection on small, hand-made snapshots."""

from __future__ import annotations

from collectors.facts import FdbEntry, Interface, LldpNeighbor, Snapshot, SwitchInfo
from sensor.correlate.macs import is_locally_administered, normalize_mac, not_a_device, usable_fdb
from sensor.correlate.view import Settings, build_view
from tests.correlate.factory import DIST_BASE, MON, PC, PHONE, PUMP, SW1_BASE, SW1_PORTS, WS, dist, sw1


def best(view, mac):
    return view.candidates[mac][0]


def test_pump_attaches_to_its_access_port_not_the_uplink() -> None:
    v = build_view({"sw1": sw1(1), "dist": dist(1)}, Settings())
    c = best(v, PUMP)
    assert (c.switch, c.port, c.ifindex, c.vlan) == ("sw1", "ge1", 4, 10)
    assert c.confidence >= 0.9
    # dist ge1 faces the polled switch sw1 (LLDP): transit only, never a candidate
    assert all(x.switch != "dist" for x in v.candidates[PUMP])
    up = v.ports[("sw1", SW1_PORTS["ge24"])]
    assert up.infra and up.faces_polled == "dist"
    assert v.ports[("dist", 4)].faces_polled == "sw1"


def test_dist_alone_knows_sw1_is_polled_from_the_config() -> None:
    v = build_view({"dist": dist(1)}, Settings(switch_hosts={"sw1": "198.18.0.11", "dist": "198.18.0.1"}))
    assert PUMP not in v.candidates  # only seen on a link to a polled switch: no attachment yet


def test_phone_does_not_make_its_port_an_uplink_and_the_pc_stays_there() -> None:
    v = build_view({"sw1": sw1(1), "dist": dist(1)}, Settings())
    port = v.ports[("sw1", SW1_PORTS["ge4"])]
    assert not port.infra and port.phone == "SEP001E7A121024"
    for mac in (PHONE, PC):
        c = best(v, mac)
        assert (c.switch, c.port) == ("sw1", "ge4") and c.tier == 2
    assert "behind the IP phone" in best(v, PC).evidence[-1]
    assert "is this device" in best(v, PHONE).evidence[-1]
    assert v.neighbours[PHONE].sys_name == "SEP001E7A121024"


def test_switch_own_macs_and_special_macs_are_not_devices() -> None:
    v = build_view({"sw1": sw1(1), "dist": dist(1)}, Settings())
    for mac in (SW1_BASE, DIST_BASE, "94:18:82:01:00:18", "28:99:3a:02:00:01", "01:80:c2:00:00:0e"):
        assert mac not in v.candidates
    assert set(v.candidates) >= {PUMP, MON, WS, PHONE, PC}


def test_unpolled_edge_switch_gives_a_low_confidence_flagged_attachment() -> None:
    n = LldpNeighbor(switch="sw1", ifindex=SW1_PORTS["ge5"], chassis_id="00:11:22:33:44:55", sys_name="closet-hub",
                     capabilities=("bridge",))
    extra = [FdbEntry(switch="sw1", ifindex=SW1_PORTS["ge5"], vlan=10, mac="00:09:fb:00:00:01")]
    s = sw1(1, extra_fdb=extra)
    s = Snapshot(switch=s.switch, taken_at=1, method="snmp", system=s.system, interfaces=s.interfaces, fdb=s.fdb,
                 lldp=(*s.lldp, n))
    v = build_view({"sw1": s}, Settings())
    c = best(v, "00:09:fb:00:00:01")
    assert c.tier == 1 and c.confidence < 0.5 and "edge switch not polled" in c.flags


def test_configured_uplink_and_mac_threshold() -> None:
    many = [FdbEntry(switch="sw1", ifindex=SW1_PORTS["ge5"], vlan=10, mac=f"f8:bc:12:00:00:{i:02x}") for i in range(5)]
    v = build_view({"sw1": sw1(1, extra_fdb=many)}, Settings(uplink_mac_threshold=4))
    assert v.ports[("sw1", SW1_PORTS["ge5"])].infra
    assert "more than uplink_mac_threshold" in v.ports[("sw1", SW1_PORTS["ge5"])].reasons[0]
    v = build_view({"sw1": sw1(1)}, Settings(uplinks={"sw1": frozenset({"ge1"})}))
    assert v.ports[("sw1", SW1_PORTS["ge1"])].infra
    assert best(v, PUMP).tier == 1


def test_lag_members_fold_into_the_aggregate() -> None:
    ifaces = (Interface(switch="a", ifindex=1, name="Gi1/0/1", lag_ifindex=100),
              Interface(switch="a", ifindex=2, name="Gi1/0/2", lag_ifindex=100),
              Interface(switch="a", ifindex=100, name="Po1", if_type=161),
              Interface(switch="a", ifindex=3, name="Gi1/0/3"))
    fdb = (FdbEntry(switch="a", ifindex=1, vlan=5, mac="00:09:fb:00:00:01"),
           FdbEntry(switch="a", ifindex=3, vlan=5, mac="00:09:fb:00:00:02"))
    v = build_view({"a": Snapshot(switch="a", taken_at=1, method="t", interfaces=ifaces, fdb=fdb)}, Settings())
    c = best(v, "00:09:fb:00:00:01")
    assert c.port == "Po1" and c.tier == 1 and "seen only on a link aggregate" in c.flags
    assert best(v, "00:09:fb:00:00:02").tier == 2


def test_learning_a_polled_switch_mac_marks_transit() -> None:
    a = Snapshot(switch="a", taken_at=1, method="t", system=SwitchInfo(switch="a", base_mac="02:00:00:00:00:0a"),
                 fdb=(FdbEntry(switch="a", ifindex=7, vlan=1, mac="02:00:00:00:00:0b"),
                      FdbEntry(switch="a", ifindex=7, vlan=1, mac=PUMP)))
    b = Snapshot(switch="b", taken_at=1, method="t", system=SwitchInfo(switch="b", base_mac="02:00:00:00:00:0b"),
                 fdb=(FdbEntry(switch="b", ifindex=3, vlan=1, mac=PUMP),))
    v = build_view({"a": a, "b": b}, Settings())
    assert v.ports[("a", 7)].faces_polled == "b"
    assert [(c.switch, c.ifindex) for c in v.candidates[PUMP]] == [("b", 3)]


def test_arp_joins_every_router_and_an_ip_belongs_to_its_freshest_mac() -> None:
    d1 = dist(10)
    d2 = dist(20, arp={WS: "198.18.10.21"})  # the pump's IP now answers from the workstation
    from dataclasses import replace  # noqa: F401  (msgspec structs: use structs.replace)

    import msgspec

    d2 = msgspec.structs.replace(d2, switch="dist2", arp=tuple(msgspec.structs.replace(a, router="dist2")
                                                                for a in d2.arp))
    v = build_view({"dist": d1, "dist2": d2, "sw1": sw1(5)}, Settings())
    assert [s.ip for s in v.ips[WS]] == ["198.18.10.21", "198.18.10.23"]
    assert PUMP not in v.ips


def test_mac_helpers() -> None:
    assert normalize_mac("0009.FB12.3456") == "00:09:fb:12:34:56"
    assert normalize_mac("00-09-fb-12-34-56") == "00:09:fb:12:34:56"
    assert normalize_mac("nope") is None
    assert not_a_device("ff:ff:ff:ff:ff:ff") == "broadcast"
    assert not_a_device("00:00:00:00:00:00") == "all-zero"
    assert not_a_device("01:00:5e:00:00:01") == "multicast"
    assert not_a_device("33:33:00:00:00:01") == "multicast"
    assert not_a_device("00:00:5e:00:01:0a") == "VRRP virtual router"
    assert not_a_device("00:00:0c:07:ac:01") == "HSRP virtual router"
    assert not_a_device("00:00:0c:9f:f0:01") == "HSRPv2 virtual router"
    assert not_a_device("00:00:0c:9f:e0:01") is None
    assert not_a_device(PUMP) is None
    assert is_locally_administered("02:18:00:00:00:01") and not is_locally_administered(PUMP)
    entries = [FdbEntry(switch="s", ifindex=1, vlan=1, mac=m, status=st) for m, st in
               [(PUMP, "learned"), (MON, "self"), (WS, "mgmt"), (PC, "invalid"), ("ff:ff:ff:ff:ff:ff", "learned"),
                ("02:18:00:00:00:01", "learned"), (SW1_BASE, "learned")]]
    kept = usable_fdb(entries, {SW1_BASE})
    assert [e.mac for e in kept] == [PUMP, "02:18:00:00:00:01"]


def test_a_sysname_two_polled_switches_share_identifies_neither() -> None:
    """Factory-default or anonymised sysNames: an unpolled neighbour of that name is not a polled switch."""
    def alone(name: str, mac: str, lldp: tuple[LldpNeighbor, ...] = ()) -> Snapshot:
        return Snapshot(switch=name, taken_at=1, method="snmp", system=SwitchInfo(switch=name, sys_name="switch"),
                        interfaces=(Interface(switch=name, ifindex=1, name="p1"),),
                        fdb=(FdbEntry(switch=name, ifindex=1, vlan=1, mac=mac),), lldp=lldp)
    n = LldpNeighbor(switch="a", ifindex=1, chassis_id="00:11:22:33:44:55", sys_name="switch", capabilities=("bridge",))
    v = build_view({"a": alone("a", "00:09:fb:00:00:01", (n,)), "b": alone("b", "00:09:fb:00:00:02")}, Settings())
    assert v.ports[("a", 1)].faces_polled is None and v.ports[("a", 1)].behind_unpolled
    assert "edge switch not polled" in best(v, "00:09:fb:00:00:01").flags


def test_no_physical_port_is_never_an_access_port_and_cisco_port_channels_are_lags() -> None:
    ifaces = (Interface(switch="s", ifindex=10, name="vlan.2", if_type=135),
              Interface(switch="s", ifindex=5001, name="Po1", if_type=53),
              Interface(switch="s", ifindex=3, name="Gi1/0/3", if_type=6))
    fdb = (FdbEntry(switch="s", ifindex=None, vlan=1, mac="00:09:fb:00:00:01"),
           FdbEntry(switch="s", ifindex=10, vlan=2, mac="00:09:fb:00:00:02"),
           FdbEntry(switch="s", ifindex=5001, vlan=1, mac="00:09:fb:00:00:03"),
           FdbEntry(switch="s", ifindex=3, vlan=1, mac="00:09:fb:00:00:03"))
    v = build_view({"s": Snapshot(switch="s", taken_at=1, method="snmp", interfaces=ifaces, fdb=fdb)}, Settings())
    for mac in ("00:09:fb:00:00:01", "00:09:fb:00:00:02"):
        c = best(v, mac)
        assert c.tier == 1 and c.confidence < 0.2 and c.flags == ("port unknown",)
    assert v.ports[("s", 5001)].infra and v.ports[("s", 5001)].lag_only
    assert best(v, "00:09:fb:00:00:03").port == "Gi1/0/3"  # the access port, not the port-channel


def test_tolerant_mac_table_lowers_confidence_and_says_so() -> None:
    """A MAC table read by the CLI's tolerant parser (a note on the snapshot) gives the same
    attachment, less sure, with the reason in the evidence."""
    import msgspec

    from collectors.facts import TableStatus
    from collectors.provenance import tolerant_note

    plain = best(build_view({"sw1": sw1(1), "dist": dist(1)}, Settings()), PUMP)
    note = tolerant_note("fdb", "show mac address-table", "4 row(s)")
    snap = msgspec.structs.replace(sw1(1), method="cli", notes=(note,))
    c = best(build_view({"sw1": snap, "dist": dist(1)}, Settings()), PUMP)
    assert (c.switch, c.port) == (plain.switch, plain.port)
    assert c.confidence < plain.confidence
    assert "tolerant parser" in c.evidence[-1]
    arp_only = msgspec.structs.replace(sw1(1), method="cli", notes=(tolerant_note("arp", "show arp", "1 row(s)"),))
    assert best(build_view({"sw1": arp_only, "dist": dist(1)}, Settings()), PUMP).confidence == plain.confidence
    # The CLI's MAC table was read tolerantly, but the table in use came over SNMP.
    over_snmp = msgspec.structs.replace(snap, tables=(TableStatus(table="fdb", method="snmp", complete=True),
                                                      TableStatus(table="arp", method="cli", complete=True)))
    assert best(build_view({"sw1": over_snmp, "dist": dist(1)}, Settings()), PUMP).confidence == plain.confidence
