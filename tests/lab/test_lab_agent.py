"""The namespace lab's switches answer like real ones (net-snmp tools only).

Builds the lab once for the module (lab/up), checks BRIDGE-MIB, Q-BRIDGE-MIB,
IP-MIB and LLDP-MIB against the ground truth in lab.json, SNMPv3 authPriv, and
that the end devices are unreachable from the sensor's namespace; always runs
lab/down afterwards.  Needs root; skipped otherwise.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import ipaddress
import stat
import tomllib
from itertools import pairwise
from pathlib import Path

import pytest

from tests.lab import labkit
from tests.lab.labkit import mac_str, oid_tuple


@pytest.fixture(scope="module")
def lab():
    with labkit.running_lab() as lab:
        yield lab


def mac_index(octets: str | bytes) -> tuple[int, ...]:
    if isinstance(octets, str):
        return tuple(int(b, 16) for b in octets.split(":"))
    return tuple(octets)


# ------------------------------------------------------------------ BRIDGE-MIB
def test_ground_truth_ports_are_not_ifindexes(lab):
    sw1 = lab.switch("sw1")
    for name, port in sw1["bridge_ports"].items():
        assert port["bridge_port"] != port["ifindex"], f"{name}: bridge port == ifIndex"


def test_dot1d_fdb_maps_every_device_to_its_port(lab):
    port_ifindex = lab.walk("sw1", labkit.DOT1D_BASE_PORT_IFINDEX)
    fdb_port = lab.walk("sw1", labkit.DOT1D_TP_FDB_PORT)
    fdb_status = lab.walk("sw1", labkit.DOT1D_TP_FDB_STATUS)
    assert port_ifindex, "dot1dBasePortIfIndex is empty"
    for dev in lab.devices:
        idx = mac_index(dev["mac"])
        assert idx in fdb_port, f"{dev['name']} {dev['mac']} not in dot1dTpFdbTable"
        port = fdb_port[idx]
        assert port == dev["bridge_port"], dev["name"]
        assert port_ifindex[(port,)] == dev["ifindex"], (
            f"{dev['name']}: bridge port {port} -> ifIndex {port_ifindex[(port,)]}, "
            f"expected {dev['ifindex']} ({dev['port']})")
        assert fdb_status[idx] == 3, f"{dev['name']} should be learned(3)"


def test_phone_and_pc_share_a_port(lab):
    fdb_port = lab.walk("sw1", labkit.DOT1D_TP_FDB_PORT)
    phone, pc = lab.device("phone"), lab.device("pc")
    assert fdb_port[mac_index(phone["mac"])] == fdb_port[mac_index(pc["mac"])]


def test_dot1q_fdb_uses_fdb_id_not_vlan(lab):
    sw1 = lab.switch("sw1")
    fdb_ids = lab.walk("sw1", labkit.DOT1Q_VLAN_FDB_ID)      # index: timeMark.vlan
    vlan_of_fdb = {fid: idx[-1] for idx, fid in fdb_ids.items()}
    assert vlan_of_fdb == {sw1["fdb_id"]: sw1["vlan"]}
    assert sw1["fdb_id"] != sw1["vlan"], "the lab must make fdbId and VLAN differ"
    port_ifindex = lab.walk("sw1", labkit.DOT1D_BASE_PORT_IFINDEX)
    q_port = lab.walk("sw1", labkit.DOT1Q_TP_FDB_PORT)     # index: fdbId.mac
    q_status = lab.walk("sw1", labkit.DOT1Q_TP_FDB_STATUS)
    for dev in lab.devices:
        idx = (sw1["fdb_id"], *mac_index(dev["mac"]))
        assert idx in q_port, f"{dev['name']} not in dot1qTpFdbTable"
        assert vlan_of_fdb[idx[0]] == dev["vlan"]
        assert port_ifindex[(q_port[idx],)] == dev["ifindex"], dev["name"]
        assert q_status[idx] == 3


def test_bridge_base_address_and_self_entries(lab):
    for sw in lab.switches:
        got = lab.get(sw["name"], labkit.DOT1D_BASE_BRIDGE_ADDRESS)
        assert mac_str(next(iter(got.values()))) == sw["base_mac"]
        status = lab.walk(sw["name"], labkit.DOT1D_TP_FDB_STATUS)
        fdb_port = lab.walk(sw["name"], labkit.DOT1D_TP_FDB_PORT)
        assert status[mac_index(sw["base_mac"])] == 4          # self
        assert fdb_port[mac_index(sw["base_mac"])] == 0
        for port in sw["bridge_ports"].values():                # each port's own MAC
            assert status[mac_index(port["mac"])] == 4
            assert fdb_port[mac_index(port["mac"])] == port["bridge_port"]


def test_uplink_learns_the_router(lab):
    sw1, dist = lab.switch("sw1"), lab.switch("dist")
    fdb_port = lab.walk("sw1", labkit.DOT1D_TP_FDB_PORT)
    uplink = sw1["bridge_ports"][sw1["uplinks"][0]]["bridge_port"]
    assert fdb_port[mac_index(dist["base_mac"])] == uplink
    # ... and dist learns every device on its downlink (the uplink problem).
    dist_fdb = lab.walk("dist", labkit.DOT1D_TP_FDB_PORT)
    down = dist["bridge_ports"][dist["uplinks"][0]]["bridge_port"]
    for dev in lab.devices:
        assert dist_fdb[mac_index(dev["mac"])] == down, dev["name"]


def test_getnext_walk_is_strictly_increasing_and_terminates(lab):
    res = lab.snmp("snmpwalk", "sw1", [labkit.BRIDGE], extra=["-Cc"])  # plain GETNEXT, no agent-side check
    assert res.returncode == 0, res.stderr
    oids = [o for o, _t, _v in labkit.parse_snmp_output(res.stdout)]
    assert len(oids) > 20
    assert all(a < b for a, b in pairwise(oids)), "GETNEXT order is not strictly increasing"
    base = oid_tuple(labkit.BRIDGE)
    assert all(o[:len(base)] == base for o in oids)
    bulk = lab.walk("sw1", labkit.BRIDGE)
    assert sorted((*base, *k) for k in bulk) == oids, "bulk walk and GETNEXT walk differ"


def test_getnext_from_between_rows_and_past_the_end(lab):
    fdb_port = lab.walk("sw1", labkit.DOT1D_TP_FDB_PORT)
    first = min(fdb_port)
    res = lab.snmp("snmpgetnext", "sw1", [labkit.DOT1D_TP_FDB_PORT + ".0.0"])
    (oid, _t, val), = labkit.parse_snmp_output(res.stdout)
    assert oid == (*oid_tuple(labkit.DOT1D_TP_FDB_PORT), *first) and val == fdb_port[first]
    res = lab.snmp("snmpgetnext", "sw1", [labkit.BRIDGE + ".7.1.4.5.1.1.9999"])
    rows = labkit.parse_snmp_output(res.stdout)
    assert all(o[:7] != oid_tuple(labkit.BRIDGE) for o, _t, _v in rows)


# ------------------------------------------------------------------ IP-MIB
def test_dist_arp_table_has_the_devices(lab):
    dist = lab.switch("dist")
    phys = lab.walk("dist", labkit.IP_NET_TO_PHYS_PHYS_ADDRESS)
    # index: ifIndex.addrType.len.addr...
    v4 = {(idx[0], str(ipaddress.ip_address(bytes(idx[3:])))): mac_str(v)
          for idx, v in phys.items() if idx[1] == 1}
    v6 = {(idx[0], str(ipaddress.ip_address(bytes(idx[3:])))): mac_str(v)
          for idx, v in phys.items() if idx[1] == 2}
    svi = dist["svi"]["ifindex"]
    for dev in lab.devices:
        assert v4.get((svi, dev["ipv4"])) == dev["mac"], f"ARP for {dev['name']}"
        assert v6.get((svi, str(ipaddress.ip_address(dev["ipv6"])))) == dev["mac"], f"ND for {dev['name']}"
    for name in ("pump", "monitor", "workstation"):
        assert lab.device(name)["ipv4"] in {ip for _i, ip in v4}


# ------------------------------------------------------------------ LLDP-MIB
@pytest.mark.parametrize("switch", ["sw1", "dist"])
def test_lldp_neighbours(lab, switch):
    loc_port_id = lab.walk(switch, labkit.LLDP_LOC_PORT_ID)       # index: localPortNum
    rem_name = lab.walk(switch, labkit.LLDP_REM_SYS_NAME)         # index: timeMark.localPortNum.remIndex
    rem_port = lab.walk(switch, labkit.LLDP_REM_PORT_ID)
    rem_caps = lab.walk(switch, labkit.LLDP_REM_SYS_CAP_ENABLED)
    port_of = {num: pid.decode() for (num,), pid in loc_port_id.items()}
    seen = {(port_of[idx[1]], name.decode()): idx for idx, name in rem_name.items()}
    expected = [link for link in lab.data["lldp_links"] if link["switch"] == switch]
    assert expected
    bits = {"other": 0, "repeater": 1, "bridge": 2, "wlan": 3, "router": 4, "telephone": 5}
    for link in expected:
        key = (link["port"], link["neighbor"])
        assert key in seen, f"{switch}: no LLDP neighbour {link['neighbor']} on {link['port']}: {sorted(seen)}"
        idx = seen[key]
        assert idx[1] == link["ifindex"], "lldpd numbers local ports by ifIndex"
        assert rem_port[idx].decode() == link["neighbor_port"]
        caps = int.from_bytes(rem_caps[idx], "big") << (8 * (2 - len(rem_caps[idx])))
        for cap in link["neighbor_capabilities"]:
            assert caps & (0x8000 >> bits[cap]), f"{link['neighbor']} lacks {cap}"
    if switch == "sw1":
        names = {n for (_p, n) in seen}
        assert names == {"dist", lab.data["lldp_links"][2]["neighbor"]}, "end devices other than the phone speak no LLDP"


# ------------------------------------------------------------------ SNMPv3
@pytest.mark.parametrize("switch", ["sw1", "dist"])
def test_v3_auth_priv_works(lab, switch):
    got = lab.get(switch, labkit.SYS_NAME, auth=lab.v3_args())
    assert got == {oid_tuple(labkit.SYS_NAME): switch.encode()}


@pytest.mark.parametrize("bad", ["auth", "priv", "noauth", "community"])
def test_wrong_credentials_fail(lab, bad):
    if bad == "auth":
        auth = lab.v3_args(auth="not-the-auth-key")
    elif bad == "priv":
        auth = lab.v3_args(priv="not-the-priv-key")
    elif bad == "noauth":
        auth = lab.v3_args(level="noAuthNoPriv")
    else:
        auth = lab.v2c_args("public")
    res = lab.snmp("snmpget", "sw1", [labkit.SYS_NAME], auth=auth, timeout=1, retries=0)
    assert res.returncode != 0 or "sw1" not in res.stdout, res.stdout


def test_secrets_and_sensor_config(lab):
    creds = lab.data["credentials"]
    files = [creds["community_file"], creds["v3"]["auth_key_file"], creds["v3"]["priv_key_file"]]
    for f in files:
        mode = stat.S_IMODE(Path(f).stat().st_mode)
        assert mode == 0o600, f"{f} has mode {mode:o}"
        assert Path(f).read_text().strip()
    cfg = tomllib.loads(Path(lab.data["sensor"]["config"]).read_text())
    sw = {s["name"]: s for s in cfg["switch"]}
    assert sw["sw1"]["host"] == lab.switch("sw1")["mgmt_ip"]
    assert sw["sw1"]["snmp"]["version"] == "3"
    assert sw["sw1"]["snmp"]["auth_protocol"] == creds["v3"]["auth_protocol"] == "sha256"
    assert sw["sw1"]["snmp"]["priv_protocol"] == creds["v3"]["priv_protocol"] == "aes128"
    assert sw["dist"]["snmp"]["community_file"] == creds["community_file"]


# ------------------------------------------------------------------ isolation
def test_devices_unreachable_from_mgmt(lab):
    routes = lab.run(labkit.MGMT_NS, ["ip", "-j", "route", "show", "table", "all"]).stdout
    assert '"dst":"default"' not in routes.replace(" ", ""), "es-mgmt must have no default route"
    targets = [d["ipv4"] for d in lab.devices] + [d["ipv6"] for d in lab.devices]
    targets += [lab.switch("dist")["svi"]["ipv4"], lab.data["servers"][0]["ipv4"]]
    for ip in targets:
        route = lab.run(labkit.MGMT_NS, ["ip", "route", "get", ip])
        assert route.returncode != 0, f"es-mgmt has a route to {ip}: {route.stdout}"
        ping = lab.run(labkit.MGMT_NS, ["ping", "-n", "-c", "1", "-W", "1", ip])
        assert ping.returncode != 0, f"{ip} answered a ping from es-mgmt"
    # ... even via the router's management address as gateway
    probe = lab.run(labkit.MGMT_NS, ["ping", "-n", "-c", "1", "-W", "1", "-I", "br-mgmt",
                                     lab.devices[0]["ipv4"]])
    assert probe.returncode != 0
    for sw in lab.switches:  # while the switches are reachable
        assert lab.run(labkit.MGMT_NS, ["ping", "-n", "-c", "1", "-W", "1", sw["mgmt_ip"]]).returncode == 0


def test_traffic_is_repeatable(lab):
    lab.traffic()


# ------------------------------------------------------------------ no root needed
def _load_bridge_mib():
    path = labkit.LAB_DIR / "bin" / "bridge-mib"
    loader = importlib.machinery.SourceFileLoader("lab_bridge_mib", str(path))
    spec = importlib.util.spec_from_loader("lab_bridge_mib", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_bridge_mib_getnext_order_unit(tmp_path, monkeypatch):
    """The pass_persist table is ordered as integer tuples, not strings."""
    mod = _load_bridge_mib()
    mib = mod.BridgeMib("br0", vlan=10, fdb_id=1, vlan_name="clinical")
    monkeypatch.setattr(mib, "ports", lambda: {"ge24": (1, 8), "ge1": (2, 4), "ge10": (10, 13)})
    monkeypatch.setattr(mib, "fdb", lambda: [
        {"mac": "58:42:e4:12:10:21", "ifname": "ge1", "master": "br0", "flags": []},
        {"mac": "00:09:fb:12:10:22", "ifname": "ge10", "master": "br0", "flags": []},
        {"mac": "94:18:82:01:00:01", "ifname": "ge1", "master": "br0", "state": "permanent"},
        {"mac": "33:33:00:00:00:01", "ifname": "ge1", "flags": ["self"], "state": "permanent"},
        {"mac": "01:00:5e:00:00:01", "ifname": "br0", "flags": ["self"], "state": "permanent"},
    ])
    real_read = mod.read
    monkeypatch.setattr(mod, "read", lambda p: "94:18:82:01:00:00" if p.endswith("/address")
                        else ("360000" if p.endswith("ageing_time") else real_read(p)))
    rows = mib.table()
    oids = [r[0] for r in rows]
    assert oids == sorted(oids) and len(set(oids)) == len(oids)
    # .1.4.1.2.2 < .1.4.1.2.10 (a string sort would put 10 first)
    assert mib.getnext((*mod.PREFIX, 1, 4, 1, 2, 2))[0] == (*mod.PREFIX, 1, 4, 1, 2, 10)
    assert mib.getnext(mod.PREFIX)[0] == (*mod.PREFIX, 1, 1, 0)
    assert mib.getnext(oids[-1]) is None
    assert mib.get((*mod.PREFIX, 4, 3, 1, 2, 0x58, 0x42, 0xe4, 0x12, 0x10, 0x21))[2] == "2"
    assert mib.get((*mod.PREFIX, 4, 3, 1, 3, 0x94, 0x18, 0x82, 1, 0, 1))[2] == "4"
    assert mib.get((*mod.PREFIX, 4, 3, 1, 2, 0x33, 0x33, 0, 0, 0, 1)) is None  # multicast skipped
    assert mib.get((*mod.PREFIX, 7, 1, 4, 2, 1, 3, 0, 10))[1:] == ("gauge", "1")
    assert mib.get((*mod.PREFIX, 4, 2, 0))[2] == "3600"
