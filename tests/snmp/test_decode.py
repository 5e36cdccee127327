"""The pure decoders: index parsing, MACs, FDB/VLAN mapping, LLDP local ports, CDP, ARP."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from collectors.facts import FdbEntry, Interface
from collectors.snmp import decode as d

macs = st.binary(min_size=6, max_size=6).filter(lambda b: b != b"\0" * 6)


@given(macs)
def test_mac_round_trips_through_index_and_every_text_form(raw: bytes) -> None:
    mac = d.format_mac(raw)
    assert d.mac_from_index((5, *raw)) == mac
    assert d.parse_mac(raw) == mac
    h = raw.hex()
    for text in (mac, mac.upper(), mac.replace(":", "-"), h, f"{h[:4]}.{h[4:8]}.{h[8:]}",
                 " ".join(h[i:i + 2] for i in range(0, 12, 2)).upper()):
        assert d.parse_mac(text.encode()) == mac


@given(st.binary(max_size=20).filter(lambda b: len(b) != 6))
def test_parse_mac_rejects_binary_of_wrong_length(raw: bytes) -> None:
    out = d.parse_mac(raw)
    assert out is None or len(out) == 17  # only a textual MAC of another length may parse


def test_parse_mac_rejects_zero_and_junk() -> None:
    assert d.parse_mac(b"\0" * 6) is None
    assert d.parse_mac(b"not a mac") is None
    assert d.parse_mac(3) is None


@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), st.integers(1, 2**31 - 1),
       st.booleans())
def test_inet_address_index_round_trip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, ifindex: int,
                                       implied: bool) -> None:
    raw = ip.packed
    kind = 1 if ip.version == 4 else 2
    index = (ifindex, kind, *(() if implied else (len(raw),)), *raw)
    got, nxt = d.parse_inet_address(index, 2, kind)
    assert got == str(ip) and nxt == len(index)


@given(st.lists(st.integers(0, 2**32), max_size=30))
def test_index_parsers_never_crash_on_junk(index: list[int]) -> None:
    t = tuple(index)
    d.mac_from_index(t)
    for kind in range(6):
        d.parse_inet_address(t, 2, kind)
    table = {"ipNetToPhysicalPhysAddress": {t: b"\x00\x11\x22\x33\x44\x55"},
             "ipNetToMediaPhysAddress": {t: b"\x00\x11\x22\x33\x44\x55"},
             "dot1qTpFdbPort": {t: 3}, "dot1dTpFdbPort": {t: 3},
             "lldpRemSysName": {t: b"x"}, "cdpCacheDeviceId": {t: b"x"}, "lldpRemManAddrIfSubtype": {t: 2}}
    d.decode_ip_net_to_physical("s", table)
    d.decode_ip_net_to_media("s", table)
    d.decode_qbridge_fdb("s", table, d.PortResolver({}, []), {})
    d.decode_bridge_fdb("s", table, d.PortResolver({}, []))
    d.decode_lldp("s", table, d.LocalPortMap({}, []), d.lldp_management_addresses(table))
    d.decode_cdp("s", table)


@given(st.binary(max_size=5000))
def test_text_is_bounded_and_printable(raw: bytes) -> None:
    s = d.text(raw)
    assert len(s) <= d.MAX_NAME and s.isprintable() and "\0" not in s
    m = d.text(raw, d.MAX_TEXT, multiline=True)
    assert len(m) <= d.MAX_TEXT and all(c.isprintable() or c == "\n" for c in m)


def iface(ifindex: int, name: str = "", descr: str = "", alias: str = "", mac: str | None = None) -> Interface:
    return Interface(switch="s", ifindex=ifindex, name=name, descr=descr, alias=alias, phys_address=mac)


def test_qbridge_vlan_comes_from_dot1q_vlan_fdb_id_and_port_from_base_port() -> None:
    mac = (0x58, 0x42, 0xE4, 0x12, 0x10, 0x21)
    fdb = {"dot1qTpFdbPort": {(1, *mac): 2, (7, *mac): 3, (9, *mac): 2},
           "dot1qTpFdbStatus": {(1, *mac): 3, (7, *mac): 4, (9, *mac): 2}}
    fdb_vlans = d.vlans_by_fdb_id({"dot1qVlanFdbId": {(0, 10): 1, (0, 20): 7, (0, 30): 7}})
    ports = d.PortResolver(d.bridge_port_map({"dot1dBasePortIfIndex": {(1,): 24, (2,): 4, (3,): 5}}), [4, 5, 24])
    rows, notes = d.decode_qbridge_fdb("s", fdb, ports, fdb_vlans)
    assert [(r.vlan, r.ifindex, r.status) for r in rows] == [(None, 5, "self"), (10, 4, "learned")]
    assert rows[1].mac == "58:42:e4:12:10:21"
    assert notes and "7" in notes[0]  # FDB id 7 is shared by VLANs 20 and 30 (status invalid row 9 dropped)
    assert not ports.assumed


def test_fdb_id_is_the_vlan_without_dot1q_vlan_table_and_ports_fall_back_to_ifindex() -> None:
    fdb = {"dot1qTpFdbPort": {(200, 0, 1, 2, 3, 4, 5): 9}}
    # Only a vendor documented to number bridge ports as ifIndex gets that fallback ...
    junos = d.port_is_ifindex("1.3.6.1.4.1.2636.1.1.1.2.39")
    assert junos is not None and "Junos" in junos
    ports = d.PortResolver({}, [9], port_is_ifindex=junos)
    rows, _ = d.decode_qbridge_fdb("s", fdb, ports, {})
    assert rows[0].vlan == 200 and rows[0].ifindex == 9 and ports.assumed
    assert any("taken as ifIndex: Junos" in n for n in ports.notes())
    # ... any other leaves the row without a port, counted: never attached to a guessed one.
    assert d.port_is_ifindex("1.3.6.1.4.1.171.10.118.2") is None
    ports = d.PortResolver({}, [9])
    rows, _ = d.decode_qbridge_fdb("s", fdb, ports, {})
    assert rows[0].ifindex is None and not ports.assumed and ports.unmapped == {9}
    assert any("bridge port(s) 9 have no ifIndex mapping" in n for n in ports.notes())


def test_jetstream_bridge_ports_are_mapped_by_port_name() -> None:
    ifs = [Interface(switch="s", ifindex=49153, name="gigabitEthernet 1/0/1"),
           Interface(switch="s", ifindex=49160, name="gigabitEthernet 1/0/8"),
           Interface(switch="s", ifindex=1, name="vlan1")]
    by_name = d.ports_by_name("1.3.6.1.4.1.11863.5.118", ifs)
    assert by_name == {1: 49153, 8: 49160}
    assert d.ports_by_name("1.3.6.1.4.1.9.1.1208", ifs) == {}
    # dot1dBasePortIfIndex is 0 for port 8 (dropped by bridge_port_map): the name fills it in.
    ports = d.PortResolver(d.bridge_port_map({"dot1dBasePortIfIndex": {(1,): 49153, (8,): 0}}), [49153, 49160],
                           by_name=by_name)
    assert ports(1) == 49153 and ports(8) == 49160 and ports.named and not ports.unmapped


def test_huawei_dynamic_mac_table_fills_the_ports_the_bridge_mibs_lack() -> None:
    mac = (0x00, 0x09, 0xFB, 0x12, 0x10, 0x22)
    vendor = d.decode_huawei_fdb("s", {"hwDynFdbPort": {(*mac, 10, 0): 6, (0, 1, 2, 3, 4, 5, 20, 0): 999}}, [6, 7])
    assert [(v.mac, v.vlan, v.ifindex) for v in vendor] == [("00:09:fb:12:10:22", 10, 6),
                                                            ("00:01:02:03:04:05", 20, None)]
    rows = [FdbEntry(switch="s", ifindex=None, vlan=10, mac="00:09:fb:12:10:22"),
            FdbEntry(switch="s", ifindex=7, vlan=10, mac="00:00:00:00:00:07")]
    assert [r.ifindex for r in d.fill_ports(rows, vendor)] == [6, 7]
    assert d.fill_ports([], vendor) == vendor


def test_lag_members_map_to_their_aggregate() -> None:
    lags = d.lag_membership({"dot3adAggPortAttachedAggID": {(1,): 100, (2,): 100, (3,): 0, (100,): 100}})
    assert lags == {1: 100, 2: 100}
    ifs = d.decode_interfaces("s", {"ifName": {(1,): b"Gi1", (2,): b"Gi2", (100,): b"Po1"}}, lags)
    assert [(i.name, i.lag_ifindex) for i in ifs] == [("Gi1", 100), ("Gi2", 100), ("Po1", None)]


def test_interfaces_speed_and_fallbacks() -> None:
    t = {"ifDescr": {(1,): b"eth0", (2,): b"eth1"}, "ifName": {(1,): b"ge1"},
         "ifHighSpeed": {(1,): 10000, (2,): 0}, "ifSpeed": {(1,): 4294967295, (2,): 100_000_000},
         "ifOperStatus": {(1,): 1, (2,): 7}, "ifPhysAddress": {(1,): b"\x94\x18\x82\x01\x00\x01", (2,): b""}}
    a, b = d.decode_interfaces("s", t)
    assert (a.name, a.speed, a.oper_up, a.phys_address) == ("ge1", 10000, True, "94:18:82:01:00:01")
    assert (b.name, b.speed, b.oper_up, b.phys_address) == ("eth1", 100, False, None)


def test_lldp_local_port_is_matched_by_id_not_assumed_equal_to_ifindex() -> None:
    ifs = [iface(4, "ge1", "port 1"), iface(5, "ge2", "port 2", mac="94:18:82:01:00:02"), iface(24, "ge24")]
    loc = {"lldpLocPortIdSubtype": {(1,): 5, (2,): 3, (3,): 7, (4,): 1},
           "lldpLocPortId": {(1,): b"ge1", (2,): b"\x94\x18\x82\x01\x00\x02", (3,): b"24", (4,): b"nothing"},
           "lldpLocPortDesc": {(4,): b"port 1"}}
    m = d.LocalPortMap(loc, ifs)
    assert [m(1), m(2), m(3), m(4)] == [4, 5, 24, 4]
    assert m.notes == []
    # no match at all: the number is an ifIndex -> used, and said so; otherwise unmapped
    assert m(6) is None and m(24) == 24
    assert any("assumed the port number is the ifIndex" in n for n in m.notes)
    assert any("without ifIndex" in n for n in m.notes)


def test_lldp_neighbour_fields() -> None:
    idx = (0, 7, 1)
    rem = {"lldpRemChassisIdSubtype": {idx: 4}, "lldpRemChassisId": {idx: b"\x00\x1e\x7a\x12\x10\x24"},
           "lldpRemPortIdSubtype": {idx: 5}, "lldpRemPortId": {idx: b"eth0\x00"},
           "lldpRemSysName": {idx: b"SEP001E7A121024"}, "lldpRemSysCapEnabled": {idx: b"\x24\x00"},
           "lldpRemSysDesc": {idx: b"line one\r\nline two"}}
    mgmt = d.lldp_management_addresses({"lldpRemManAddrIfSubtype": {
        (0, 7, 1, 2, 16, *ipaddress.IPv6Address("fd00::1").packed): 2, (0, 7, 1, 1, 4, 198, 18, 10, 24): 2}})
    (n,) = d.decode_lldp("s", rem, d.LocalPortMap({}, [iface(7)]), mgmt)
    assert (n.ifindex, n.chassis_id, n.port_id, n.sys_name) == (7, "00:1e:7a:12:10:24", "eth0", "SEP001E7A121024")
    assert n.capabilities == ("bridge", "telephone") and n.mgmt_ip == "198.18.10.24"
    assert n.sys_desc == "line one\nline two"


def test_lldp_binary_and_network_address_ids() -> None:
    assert d.format_lldp_id(5, b"\x01\xc6\x12\x00\x0b", mac_subtype=4, net_subtype=5) == "198.18.0.11"
    assert d.format_lldp_id(7, b"\xff\xfe\x01", mac_subtype=3, net_subtype=4) == "ff:fe:01"
    assert d.format_lldp_id(3, b"cc:88:c7:00:00:00", mac_subtype=3, net_subtype=4) == "cc:88:c7:00:00:00"


def test_the_switch_own_lldp_chassis_id_is_read_with_the_system_scalars() -> None:
    # What the lab's snmpd (lldpd over AgentX) answered for sw1: subtype macAddress(4), a port MAC
    # that differs from dot1dBaseBridgeAddress.
    lab = {"sysName": b"sw1", "dot1dBaseBridgeAddress": bytes.fromhex("941882010000"),
           "lldpLocChassisIdSubtype": 4, "lldpLocChassisId": bytes.fromhex("941882010001")}
    s = d.decode_system("sw1", lab)
    assert (s.base_mac, s.lldp_chassis_id) == ("94:18:82:01:00:00", "94:18:82:01:00:01")
    assert d.decode_system("s", {"lldpLocChassisIdSubtype": 7, "lldpLocChassisId": b"core-1\x00"}
                           ).lldp_chassis_id == "core-1"  # local(7): text as sent
    assert d.decode_system("s", {"lldpLocChassisIdSubtype": 5, "lldpLocChassisId": b"\x01\xc6\x12\x00\x0b"}
                           ).lldp_chassis_id == "198.18.0.11"  # networkAddress(5)
    assert d.decode_system("s", {"sysName": b"no-lldp-mib"}).lldp_chassis_id is None


def test_cdp() -> None:
    idx = (10101, 3)
    t = {"cdpCacheDeviceId": {idx: b"ap-1.example"}, "cdpCacheDevicePort": {idx: b"GigabitEthernet0"},
         "cdpCachePlatform": {idx: b"cisco AIR-AP2702I"}, "cdpCacheAddressType": {idx: 1},
         "cdpCacheAddress": {idx: b"\xac\x1b\x04\x0b"}, "cdpCacheCapabilities": {idx: b"\x00\x00\x00\x29"}}
    (n,) = d.decode_cdp("s", t, [10101])
    assert (n.protocol, n.ifindex, n.sys_name, n.port_id, n.mgmt_ip) == (
        "cdp", 10101, "ap-1.example", "GigabitEthernet0", "172.27.4.11")
    assert n.capabilities == ("router", "bridge")


def test_arp_physical_first_then_media_fills_the_gaps() -> None:
    mac = b"\x00\x09\xfb\x12\x10\x22"
    phys = {"ipNetToPhysicalPhysAddress": {
        (3, 1, 4, 198, 18, 10, 22): mac,
        (3, 2, 16, *ipaddress.IPv6Address("fd00:18:10::22").packed): mac,
        (3, 1, 4, 198, 18, 10, 99): b"",  # incomplete: no MAC
        (3, 1, 4, 198, 18, 10, 98): mac}, "ipNetToPhysicalType": {(3, 1, 4, 198, 18, 10, 98): 2}}
    media = {"ipNetToMediaPhysAddress": {(3, 198, 18, 10, 22): mac, (3, 198, 18, 10, 23): mac}}
    rows = d.merge_arp(d.decode_ip_net_to_physical("r", phys), d.decode_ip_net_to_media("r", media))
    assert [(r.ip, r.ifindex) for r in rows] == [("198.18.10.22", 3), ("198.18.10.23", 3), ("fd00:18:10::22", 3)]
    assert {r.mac for r in rows} == {"00:09:fb:12:10:22"}


def test_cisco_vlans() -> None:
    t = {"vtpVlanState": {(1, 1): 1, (1, 10): 1, (1, 20): 2, (1, 1002): 1, (1, 1005): 1, (1, 30): 1},
         "vtpVlanType": {(1, 30): 2}}
    assert d.cisco_operational_vlans(t) == [1, 10]
    assert d.is_cisco("1.3.6.1.4.1.9.1.1208") and not d.is_cisco("1.3.6.1.4.1.90.1")


# --- LLDP-MED (LLDP-EXT-MED-MIB) ----------------------------------------------------------

def test_lldp_med_inventory_and_class_join_their_neighbour() -> None:
    phone, other = (0, 7, 1), (0, 8, 3)
    rem = {"lldpRemChassisIdSubtype": {phone: 4, other: 4},
           "lldpRemChassisId": {phone: b"\x00\x1e\x7a\x12\x10\x24", other: b"\x00\x09\xfb\x12\x10\x22"},
           "lldpRemSysName": {phone: b"SEP001E7A121024", other: b"mon"}}
    cap = {"lldpXMedRemDeviceClass": {(0, 7, 1): 3, (0, 8, 3): 0, (0, 9, 1): 1}}
    inv = {"lldpXMedRemHardwareRev": {(0, 7, 1): b"V01"},
           "lldpXMedRemFirmwareRev": {(0, 7, 1): b"boot 1.2\x00"},
           "lldpXMedRemSoftwareRev": {(0, 7, 1): b"sip8845.14-1-1"},
           "lldpXMedRemSerialNum": {(0, 7, 1): b"FCH1234ABCD"},
           "lldpXMedRemMfgName": {(0, 7, 1): b"Cisco Systems, Inc.", (0, 8, 3): b""},
           "lldpXMedRemModelName": {(0, 7, 1): b"CP-8845"},
           "lldpXMedRemAssetID": {(0, 7, 1): b"LAB-PHONE-4"}}
    med = d.lldp_med(cap, inv)
    # notDefined(0) with no inventory says nothing; a row without a neighbour is harmless
    assert set(med) == {(7, 1), (9, 1)} and med[(9, 1)].med_class == "endpoint-1"
    n, o = d.decode_lldp("s", rem, d.LocalPortMap({}, [iface(7), iface(8)]), {}, med)
    assert (n.med_class, n.med_manufacturer, n.med_model) == ("endpoint-3", "Cisco Systems, Inc.", "CP-8845")
    assert (n.med_hardware, n.med_firmware, n.med_software, n.med_serial, n.med_asset) == (
        "V01", "boot 1.2", "sip8845.14-1-1", "FCH1234ABCD", "LAB-PHONE-4")
    assert o.sys_name == "mon" and o.med_class is None and o.med_manufacturer == o.med_model == ""
    # without the MED tables, neighbours are as before
    (n0, _) = d.decode_lldp("s", rem, d.LocalPortMap({}, [iface(7), iface(8)]), {})
    assert n0.med_class is None and n0.med_model == ""


@given(st.lists(st.integers(0, 2**32), max_size=8),
       st.one_of(st.binary(max_size=600), st.integers(-2**31, 2**32), st.text(max_size=300)))
def test_lldp_med_never_crashes_on_junk(index: list[int], value: bytes | int | str) -> None:
    t = tuple(index)
    cap = {"lldpXMedRemDeviceClass": {t: value, (0, 1, 1): value}}
    inv = {c: {t: value, (0, 1, 1): value} for c in d.MED_INVENTORY_COLUMNS.values()}
    med = d.lldp_med(cap, inv)
    for key, m in med.items():
        assert len(key) == 2
        for f in d.MED_INVENTORY_COLUMNS:
            s = getattr(m, f)
            assert len(s) <= d.MAX_NAME and s.isprintable()
        assert m.med_class in (None, *d.MED_DEVICE_CLASSES.values())
    rem = {"lldpRemSysName": {t: b"x", (0, 1, 1): b"y"}}
    for n in d.decode_lldp("s", rem, d.LocalPortMap({}, []), {}, med):
        assert len(n.med_model) <= d.MAX_NAME
