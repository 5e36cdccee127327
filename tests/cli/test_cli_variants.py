"""Output variants real devices print, and the platforms hospitals run, through `sensor parse`.

The outputs in tests/cli/outputs/ were written for these tests from the vendors' documented
formats (command references, and the layouts ntc-templates' and NAPALM's parsers describe),
with our own addresses; none is copied from ../shared/corpus. Each file is named
``<platform>__<command>[_<variant>].txt``; CASES says what a poll must get out of it: every
unicast MAC with its VLAN and port, every (IP, MAC) with its interface, every neighbour with
its local port and name. Where ntc-templates has no template or matches nothing, the tolerant
parser reads the output and a note says so (``tolerant``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.corpus import port_name, sensor_parse

OUT = Path(__file__).parent / "outputs"

Fdb = dict[str, tuple[int | None, str]]  # mac -> (vlan, port)
Arp = dict[tuple[str, str], str]  # (ip, mac) -> interface
Nbr = dict[str, str]  # local port -> neighbour name (or chassis ID)

P1, P2, P3 = "00:09:0f:44:71:01", "00:1e:c9:7a:33:10", "a4:5d:36:01:02:03"


def case(file: str, platform: str, command: str, *, fdb: Fdb | None = None, arp: Arp | None = None,
         nbr: Nbr | None = None, tolerant: bool) -> Any:
    return pytest.param(file, platform, command, fdb, arp, nbr, tolerant, id=file)


_STD_ARP = {("10.20.0.17", P1): "", ("10.20.0.18", P2): "", ("10.30.0.5", P3): ""}

CASES = [
    # ------------------------------------------------------------ Junos
    case("junos__show_arp", "juniper_junos", "show arp", tolerant=True,
         arp={("10.10.1.1", "00:00:5e:00:01:01"): "irb.100", ("10.10.1.21", "2c:6b:f5:e3:21:c0"): "ge-0/0/21.0",
              ("10.10.1.35", P2): "ge-0/0/35.0", ("10.20.0.9", P3): "irb.200"}),
    case("junos__show_arp_no-resolve", "juniper_junos", "show arp no-resolve", tolerant=False,
         arp={("10.10.1.1", "00:00:5e:00:01:01"): "irb.100", ("10.10.1.21", "2c:6b:f5:e3:21:c0"): "ge-0/0/21.0",
              ("10.10.1.35", P2): "ge-0/0/35.0", ("10.20.0.9", P3): "irb.200"}),
    case("junos__show_ethernet-switching_table", "juniper_junos", "show ethernet-switching table", tolerant=True,
         fdb={P1: (None, "ge-0/0/17.0"), P2: (None, "ge-0/0/18.0"), P3: (None, "ge-0/0/5.0"),
              "3c:2c:30:01:07:07": (None, "ae0.0")}),
    case("junos__show_ethernet-switching_table_nonels", "juniper_junos", "show ethernet-switching table",
         tolerant=True, fdb={P1: (None, "ge-0/0/17.0"), P2: (None, "ge-0/0/18.0"), P3: (None, "ge-0/0/5.0")}),
    # ------------------------------------------------------------ NX-OS
    case("nxos__show_ip_arp", "cisco_nxos", "show ip arp", tolerant=False,
         arp={("10.1.10.1", "00:00:0c:9f:f0:0a"): "Vlan10", ("10.1.10.25", "00:50:56:a1:1c:2d"): "Vlan10",
              ("10.1.20.31", P3): "Vlan20"}),
    case("nxos__show_ip_arp_vrf_all", "cisco_nxos", "show ip arp vrf all", tolerant=False,
         arp={("10.0.0.1", "00:a6:ca:b6:0a:1b"): "mgmt0", ("10.1.10.25", "00:50:56:a1:1c:2d"): "Vlan10",
              ("10.1.20.31", P3): "Vlan20", ("172.16.5.9", P2): "Ethernet1/31",
              ("172.16.5.10", "00:1e:c9:7a:33:11"): "Ethernet1/32"}),
    case("nxos__show_ip_arp_detail", "cisco_nxos", "show ip arp detail", tolerant=True,
         arp={("10.1.10.25", "00:50:56:a1:1c:2d"): "Vlan10", ("10.1.20.31", P3): "Vlan20",
              ("10.1.20.44", "00:09:0f:09:0a:0b"): "Vlan20"}),
    case("nxos__show_ip_arp_detail_vrf_all", "cisco_nxos", "show ip arp detail vrf all", tolerant=True,
         arp={("10.0.0.1", "00:a6:ca:b6:0a:1b"): "mgmt0", ("10.1.20.31", P3): "Vlan20",
              ("10.30.0.7", "3c:2c:30:01:07:07"): "Vlan300"}),
    case("nxos__show_lldp_neighbors_detail", "cisco_nxos", "show lldp neighbors detail", tolerant=True,
         nbr={"Ethernet1/49": "dist-a.hospital.example.org", "Ethernet1/12": "patient-monitor-4471",
              "Ethernet1/13": "SEP0004F2ABCD01"}),
    case("nxos__show_cdp_neighbors_detail", "cisco_nxos", "show cdp neighbors detail", tolerant=True,
         nbr={"Ethernet1/21": "access-radiology-3rd-floor-east-closet-stack.hospital.example.org(FOC2133Z1AB)",
              "Ethernet1/22": "AIR-CAP-WARD7", "Ethernet1/23": "imaging-gw"}),
    # ------------------------------------------------------------ IOS-XE
    case("iosxe__show_arp", "cisco_xe", "show arp", tolerant=False,
         arp={("10.10.20.1", "00:a3:d1:4f:2a:41"): "Vlan20", ("10.10.20.17", P1): "Vlan20",
              ("10.10.30.5", P2): "Vlan30", ("192.168.1.1", "00:a3:d1:4f:2a:40"): "GigabitEthernet0/0"}),
    case("iosxe__show_arp_vrf", "cisco_xe", "show arp vrf CLINICAL", tolerant=True,
         arp={("10.10.20.1", "00:a3:d1:4f:2a:41"): "Vlan20", ("10.10.20.17", P1): "Vlan20",
              ("10.99.0.2", P3): "GigabitEthernet1/0/48.99", ("172.31.0.9", "00:1e:c9:7a:33:11"): "Port-channel10.300"}),
    case("iosxe__show_mac_address-table_16", "cisco_xe", "show mac address-table", tolerant=False,
         fdb={P1: (20, "GigabitEthernet1/0/17"), P2: (20, "GigabitEthernet1/0/18"), P3: (30, "GigabitEthernet1/0/5"),
              "3c:2c:30:01:07:07": (30, "TenGigabitEthernet1/1/1")}),
    case("iosxe__show_mac_address-table_17", "cisco_xe", "show mac address-table", tolerant=True,
         fdb={P1: (20, "GigabitEthernet1/0/17"), P2: (20, "GigabitEthernet1/0/18"), P3: (30, "GigabitEthernet1/0/5"),
              "3c:2c:30:01:07:07": (30, "TenGigabitEthernet1/1/1"), "00:50:56:a1:1c:2d": (40, "GigabitEthernet1/0/40"),
              "00:50:56:a1:1c:2e": (40, "GigabitEthernet1/0/41")}),
    case("iosxe__show_mac_address-table_cat4500", "cisco_xe", "show mac address-table", tolerant=False,
         fdb={P1: (20, "GigabitEthernet2/17"), P2: (20, "GigabitEthernet2/18"), P3: (30, "GigabitEthernet3/5")}),
    case("iosxe__show_mac_address-table_secure", "cisco_xe", "show mac address-table", tolerant=False,
         fdb={P1: (20, "GigabitEthernet1/0/17"), P2: (20, "GigabitEthernet1/0/18"), P3: (30, "GigabitEthernet1/0/5")}),
    # ------------------------------------------------------------ Huawei VRP
    case("huawei_vrp__display_mac-address_v200r010", "huawei_vrp", "display mac-address", tolerant=False,
         fdb={P1: (20, "GigabitEthernet0/0/17"), P2: (20, "GigabitEthernet0/0/18"), P3: (30, "XGigabitEthernet0/0/1")}),
    case("huawei_vrp__display_mac-address_v200r005", "huawei_vrp", "display mac-address", tolerant=True,
         fdb={P1: (20, "GigabitEthernet0/0/17"), P2: (20, "GigabitEthernet0/0/18"), P3: (30, "Eth-Trunk1")}),
    case("huawei_vrp__display_arp_all", "huawei_vrp", "display arp all", tolerant=False,
         arp={("10.20.0.1", "4c:1f:cc:52:0a:01"): "Vlanif20", ("10.20.0.17", P1): "GigabitEthernet0/0/17",
              ("10.30.0.5", P3): "Eth-Trunk1"}),
    case("huawei_vrp__display_lldp_neighbor", "huawei_vrp", "display lldp neighbor", tolerant=True,
         nbr={"GigabitEthernet0/0/24": "dist-ward5", "GigabitEthernet0/0/7": "infusion-pump-17"}),
    # ------------------------------------------------------------ Dell OS10
    case("dell_os10__show_mac_address-table", "dell_os10", "show mac address-table", tolerant=True,
         fdb={P1: (1, "Ethernet1/1/17"), P2: (20, "Ethernet1/1/18"), P3: (30, "Port-channel10")}),
    case("dell_os10__show_ip_arp", "dell_os10", "show ip arp", tolerant=True,
         arp={("10.20.0.17", P1): "Vlan20", ("10.20.0.18", P2): "Vlan20", ("10.30.0.5", P3): "Vlan30"}),
    case("dell_os10__show_lldp_neighbors", "dell_os10", "show lldp neighbors", tolerant=True,
         nbr={"Ethernet1/1/17": "infusion-pump-17", "Ethernet1/1/49": "core-a"}),
    # ------------------------------------------------------------ Dell OS9 (Force10)
    case("dell_force10__show_mac-address-table", "dell_force10", "show mac-address-table", tolerant=True,
         fdb={P1: (20, "TenGigabitEthernet0/17"), P2: (20, "TenGigabitEthernet0/18"), P3: (30, "Port-channel10")}),
    case("dell_force10__show_arp", "dell_force10", "show arp", tolerant=True,  # ntc's template skips "Po 10"
         arp={("10.20.0.17", P1): "TenGigabitEthernet0/17", ("10.20.0.18", P2): "TenGigabitEthernet0/18",
              ("10.30.0.5", P3): "Port-channel10"}),
    case("dell_force10__show_lldp_neighbors", "dell_force10", "show lldp neighbors", tolerant=True,
         nbr={"TenGigabitEthernet0/17": "infusion-pump-17", "TenGigabitEthernet0/48": "core-a"}),
    # ------------------------------------------------------------ Dell PowerConnect
    case("dell_powerconnect__show_bridge_address-table", "dell_powerconnect", "show bridge address-table",
         tolerant=True, fdb={P1: (1, "1/g17"), P2: (20, "1/g18"), P3: (30, "ch1")}),
    case("dell_powerconnect__show_arp", "dell_powerconnect", "show arp", tolerant=True,
         arp={("10.20.0.17", P1): "Vlan20", ("10.20.0.18", P2): "Vlan20", ("10.30.0.5", P3): "Vlan30"}),
    case("dell_powerconnect__show_lldp_remote-device_all", "dell_powerconnect", "show lldp remote-device all",
         tolerant=True, nbr={"1/g17": "infusion-pump-17", "1/g48": "dist-ward5"}),
    # ------------------------------------------------------------ Extreme EXOS
    case("extreme_exos__show_fdb", "extreme_exos", "show fdb", tolerant=False,
         fdb={P1: (20, "17"), P2: (20, "18"), P3: (30, "1:5")}),
    case("extreme_exos__show_iparp", "extreme_exos", "show iparp", tolerant=False, arp=_STD_ARP),
    case("extreme_exos__show_lldp_neighbors", "extreme_exos", "show lldp neighbors", tolerant=True,
         nbr={"17": "infusion-pump-17", "48": "core-a"}),
    # ------------------------------------------------------------ Alcatel-Lucent OmniSwitch
    case("alcatel_aos__show_mac-learning", "alcatel_aos", "show mac-learning", tolerant=False,
         fdb={P1: (20, "1/1/17"), P2: (20, "1/1/18"), P3: (30, "0/1")}),
    case("alcatel_aos__show_arp", "alcatel_aos", "show arp", tolerant=True,
         arp={("10.20.0.17", P1): "1/1/17", ("10.20.0.18", P2): "1/1/18", ("10.30.0.5", P3): "0/1"}),
    case("alcatel_aos__show_lldp_remote-system", "alcatel_aos", "show lldp remote-system", tolerant=False,
         nbr={"1/1/17": "infusion-pump-17", "1/1/48": "core-a"}),
    # ------------------------------------------------------------ Ruckus ICX / Brocade FastIron
    case("ruckus_fastiron__show_mac-address", "ruckus_fastiron", "show mac-address", tolerant=False,
         fdb={P1: (20, "1/1/17"), P2: (20, "1/1/18"), P3: (30, "1/2/1")}),
    case("ruckus_fastiron__show_mac-address_v8090", "ruckus_fastiron", "show mac-address", tolerant=True,
         fdb={P1: (20, "1/1/17"), P2: (20, "1/1/18"), P3: (30, "1/2/1")}),
    case("ruckus_fastiron__show_arp", "ruckus_fastiron", "show arp", tolerant=False,
         arp={("10.20.0.17", P1): "1/1/17", ("10.20.0.18", P2): "1/1/18", ("10.30.0.5", P3): "1/2/1"}),
    case("ruckus_fastiron__show_lldp_neighbors_detail", "ruckus_fastiron", "show lldp neighbors detail",
         tolerant=False, nbr={"1/1/17": "infusion-pump-17", "1/2/1": "core-a"}),
    # ------------------------------------------------------------ ArubaOS-Switch
    case("aruba_osswitch__show_mac-address", "aruba_osswitch", "show mac-address", tolerant=False,
         fdb={P1: (20, "17"), P2: (20, "18"), P3: (30, "Trk1")}),
    case("aruba_osswitch__show_arp", "aruba_osswitch", "show arp", tolerant=False,
         arp={("10.20.0.17", P1): "17", ("10.20.0.18", P2): "18", ("10.30.0.5", P3): "Trk1"}),
    case("aruba_osswitch__show_lldp_info_remote-device", "aruba_osswitch", "show lldp info remote-device",
         tolerant=False, nbr={"17": "infusion-pump-17", "49": "core-a"}),
    # ------------------------------------------------------------ Cisco small business
    case("cisco_s300__show_mac_address-table", "cisco_s300", "show mac address-table", tolerant=True,
         fdb={P1: (20, "GigabitEthernet1/0/17"), P2: (20, "GigabitEthernet1/0/18"), P3: (30, "Port-channel1")}),
    case("cisco_s300__show_arp", "cisco_s300", "show arp", tolerant=True,
         arp={("10.20.0.17", P1): "GigabitEthernet1/0/17", ("10.20.0.18", P2): "GigabitEthernet1/0/18",
              ("10.30.0.5", P3): "Port-channel1"}),
    case("cisco_s300__show_lldp_neighbors", "cisco_s300", "show lldp neighbors", tolerant=False,
         nbr={"GigabitEthernet1/0/17": "infusion-pump-17", "GigabitEthernet1/0/48": "dist-ward5"}),
    # ------------------------------------------------------------ IOS-XR
    case("cisco_xr__show_l2vpn_mac-learning_mac_all_location", "cisco_xr",
         "show l2vpn mac-learning mac all location 0/0/CPU0", tolerant=False,
         fdb={P1: (None, "Bundle-Ether1.20"), P2: (None, "Bundle-Ether1.20"), P3: (None, "TenGigE0/0/0/3.30")}),
    case("cisco_xr__show_arp", "cisco_xr", "show arp", tolerant=False,
         arp={("10.0.0.2", "3c:2c:30:01:07:07"): "TenGigE0/0/0/0", ("10.20.0.17", P1): "BVI20",
              ("10.30.0.5", P3): "Bundle-Ether1.30"}),
    case("cisco_xr__show_arp_7x", "cisco_xr", "show arp", tolerant=True,
         arp={("10.0.0.2", "3c:2c:30:01:07:07"): "TenGigE0/0/0/0", ("10.20.0.17", P1): "BVI20",
              ("10.30.0.5", P3): "Bundle-Ether1.30"}),
    case("cisco_xr__show_lldp_neighbors_detail", "cisco_xr", "show lldp neighbors detail", tolerant=True,
         nbr={"TenGigE0/0/0/0": "dist-a", "GigabitEthernet0/0/0/5": "infusion-pump-17"}),
    case("cisco_xr__show_cdp_neighbors_detail", "cisco_xr", "show cdp neighbors detail", tolerant=False,
         nbr={"TenGigE0/0/0/0": "dist-a"}),
    # ------------------------------------------------------------ Allied Telesis AlliedWare Plus
    case("allied_telesis_awplus__show_mac_address-table", "allied_telesis_awplus", "show mac address-table",
         tolerant=False, fdb={P1: (1, "port1.0.17"), P2: (20, "port1.0.18"), P3: (30, "sa1")}),
    case("allied_telesis_awplus__show_mac_address-table_5x", "allied_telesis_awplus", "show mac address-table",
         tolerant=False, fdb={P1: (1, "port1.0.17"), P2: (20, "port1.0.18"), P3: (30, "sa1")}),
    case("allied_telesis_awplus__show_arp", "allied_telesis_awplus", "show arp", tolerant=False,
         arp={("10.20.0.17", P1): "vlan1", ("10.20.0.18", P2): "vlan20", ("10.30.0.5", P3): "vlan30"}),
    case("allied_telesis_awplus__show_lldp_neighbors_detail", "allied_telesis_awplus", "show lldp neighbors detail",
         tolerant=True, nbr={"port1.0.17": "infusion-pump-17", "port1.0.49": "core-a"}),
]


@pytest.mark.parametrize(("file", "platform", "command", "fdb", "arp", "nbr", "tolerant"), CASES)
def test_variant(file: str, platform: str, command: str, fdb: Fdb | None, arp: Arp | None, nbr: Nbr | None,
                 tolerant: bool) -> None:
    doc = sensor_parse(platform, command, OUT / f"{file}.txt")
    notes = [n for n in doc["notes"] if "tolerant parser" in n]
    assert bool(notes) == tolerant, doc["notes"]
    name = lambda k: (port_name(doc, k) or "").lower()  # noqa: E731
    if fdb is not None:
        assert "fdb" in doc["provided"]
        got = {f["mac"]: (f["vlan"], name(f["ifindex"])) for f in doc["fdb"] if f["status"] != "self"}
        assert got == {m: (v, p.lower()) for m, (v, p) in fdb.items()}
    if arp is not None:
        assert "arp" in doc["provided"]
        got_arp = {(a["ip"], a["mac"]): name(a["ifindex"]) for a in doc["arp"]}
        assert set(arp) <= set(got_arp), sorted(set(arp) - set(got_arp))
        for key, itf in arp.items():
            if itf:
                assert got_arp[key] == itf.lower(), key
    if nbr is not None:
        table = "cdp" if "cdp" in command else "lldp"
        got_n = {name(n["ifindex"]): n for n in doc[table]}
        assert set(got_n) == {k.lower() for k in nbr}, sorted(got_n)
        for local, who in nbr.items():
            n = got_n[local.lower()]
            assert who in (n["sys_name"], n["chassis_id"]), (local, n)


def test_every_platform_has_a_variant() -> None:
    """Each platform added for hospitals has a MAC table, an ARP table and a neighbour list here."""
    from collectors.cli.platforms import CLI

    added = ("huawei_vrp", "dell_os10", "dell_force10", "dell_powerconnect", "extreme_exos", "alcatel_aos",
             "ruckus_fastiron", "aruba_osswitch", "cisco_s300", "cisco_xr", "allied_telesis_awplus")
    assert set(added) <= set(CLI)
    for p in added:
        kinds = {k for c in CASES if c.values[1] == p for k, v in zip(("fdb", "arp", "nbr"), c.values[3:6], strict=True)
                 if v is not None}
        assert kinds == {"fdb", "arp", "nbr"}, (p, kinds)


def test_netmiko_poll_of_outputs_no_template_matches(tmp_path: Path) -> None:
    """A live poll (netmiko over SSH to the fake IOS server; a fake because no real IOS runs here)
    of a switch printing an IOS-XE 17 MAC table and a VRF ARP table the templates do not match:
    the rows arrive, and the snapshot's notes say the tolerant parser read them."""
    import asyncio

    from collectors.cli.ssh import CliTarget, poll
    from collectors.provenance import tolerant_tables
    from tests.cli.fake_ios import FakeIOS

    outputs = {"show mac address-table": (OUT / "iosxe__show_mac_address-table_17.txt").read_text(),
               "show ip arp": (OUT / "iosxe__show_arp_vrf.txt").read_text(),
               "show cdp neighbors detail": (OUT / "nxos__show_cdp_neighbors_detail.txt").read_text()}
    with FakeIOS(outputs) as server:
        target = CliTarget(host="127.0.0.1", port=server.port, platform="cisco_xe", username="sensor",
                           password="pw", timeout=20, host_key_file=str(server.known_hosts(tmp_path / "kh")))
        tables, _ = asyncio.run(poll("sw-fake", target))
    assert {"fdb", "arp", "cdp"} <= set(tables.provided())
    assert len([f for f in tables.fdb or [] if f.status != "self"]) == 6
    assert len(tables.arp or []) == 4 and len(tables.cdp or []) == 3
    snap = tables.snapshot(0.0, "cli")
    assert tolerant_tables(snap.notes) == {"fdb", "arp", "cdp"}
