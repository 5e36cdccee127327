"""Every case of ../shared/corpus/cli maps, through `sensor parse`, to what its project expects.

- ntc/<platform>/<command>/<name>.raw + .yml: the MACs, ports, VLANs, IPs and neighbours in
  ntc-templates' expected records must all be in the facts;
- napalm/<driver>/<getter>/<case>/: NAPALM's normalised getter output (expected_result.json);
- junos-xml/pyez/<rpc>.xml + .expected.json: what py-junos-eznc's tests assert.

Cases that cannot map are listed in UNSUPPORTED with the reason and run as strict xfails
(visible in the summary; one that starts mapping fails the run), never silently skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.cli.names import canonical_name
from collectors.cli.parse import command_table
from tests.cli.corpus import CLI, command_of, mac, port_name, sensor_parse

pytestmark = pytest.mark.skipif(not CLI.is_dir(), reason=f"CLI corpus not found at {CLI} (../shared absent)")

# case id -> why it cannot map. Checked to be exact: a listed case that starts passing fails the run.
UNSUPPORTED: dict[str, str] = {
    "napalm/ios/get_interfaces/control-plane-interface":
        "ntc-templates cisco_ios show interfaces has no rule for 'Control Plane Interface' (no line protocol)",
    "napalm/ios/get_interfaces/pseudowire":
        "ntc-templates cisco_ios show interfaces has no rule for pseudowire interfaces (no line protocol)",
    "napalm/nxos_ssh/get_interfaces/missing_mtu": "ntc-templates cisco_nxos show interface: State Error",
    "napalm/nxos_ssh/get_interfaces/no_delay": "ntc-templates cisco_nxos show interface: State Error",
    "napalm/nxos_ssh/get_interfaces/N93180_7_0_3_I7_2":
        "ntc-templates cisco_nxos show interface captures the next line into the description of Vlan333",
    "napalm/nxos_ssh/get_mac_address_table/multiple_interfaces":
        "an entry on two ports (Po2 Eth1/1) is no attachment point: the sensor drops it, NAPALM keeps one port",
    "napalm/nxos_ssh/get_lldp_neighbors_detail/normal":
        "ntc-templates cisco_nxos show lldp neighbors detail drops a non-MAC chassis ID (chs123456s)",
    "napalm/junos/get_lldp_neighbors_detail/normal_ex_fx_srx":
        "NAPALM's mock answers every per-interface detail RPC with one reply; the expected result is that artifact",
    "napalm/junos/get_lldp_neighbors_detail/normal_mx_m_t":
        "NAPALM's mock answers every per-interface detail RPC with one reply; the expected result is that artifact",
}
# NAPALM spells some NX-OS ports differently from the switch (and SNMP's ifName).
NAPALM_ALIASES = {"management0": "mgmt0"}


def _cases(root: Path, pattern: str) -> list[Path]:
    return sorted(root.glob(pattern)) if root.is_dir() else []


def _unsupported(case_id: str) -> None:
    """Listed cases run as strict xfails (see _params): one that starts mapping fails the run."""


def _params(paths: list[Path], case_id: Any, test_id: Any) -> list[Any]:
    out = []
    for p in paths:
        reason = UNSUPPORTED.get(case_id(p))
        marks = [pytest.mark.xfail(strict=True, reason=f"unsupported: {reason}")] if reason else []
        out.append(pytest.param(p, id=test_id(p), marks=marks))
    return out


# ------------------------------------------------------------------ ntc-templates
NTC_CASES = _params(_cases(CLI / "ntc", "*/*/*.raw"),
                    lambda p: f"ntc/{p.parent.parent.name}/{p.parent.name}/{p.stem}",
                    lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.stem}")


def _val(rec: dict[str, Any], *keys: str) -> str:
    for k in keys:
        v = rec.get(k)
        if isinstance(v, list):
            v = v[0] if len(v) == 1 else ""
        if isinstance(v, str) and v.strip():
            return v.strip()
    return ""


def _is_mac(text: str) -> bool:
    return len(mac(text)) == 17


@pytest.mark.parametrize("raw", NTC_CASES)
def test_ntc_case(raw: Path) -> None:
    platform, command = raw.parent.parent.name, raw.parent.name.replace("_", " ")
    case_id = f"ntc/{platform}/{raw.parent.name}/{raw.stem}"
    _unsupported(case_id)
    expected = yaml.safe_load(raw.with_suffix(".yml").read_text())["parsed_sample"] or []
    doc = sensor_parse(platform, command, raw)
    table = command_table(command)
    canon = lambda n: canonical_name(n, platform).lower()  # noqa: E731
    if table == "fdb":
        got = {(f["mac"], (port_name(doc, f["ifindex"]) or "").lower(), f["vlan"]) for f in doc["fdb"]}
        got_macs = {f["mac"] for f in doc["fdb"]}
        for r in expected:
            m = _val(r, "destination_address", "mac_address", "mac")
            if not _is_mac(m) or int(mac(m)[:2], 16) & 1:
                continue  # group addresses are never devices: the sensor drops them
            ports_ = [p for k in ("destination_port", "ports", "port") for v in [r.get(k)]
                      for p in (v if isinstance(v, list) else str(v or "").split())]
            if len(ports_) > 1:
                continue  # a static entry on several ports: not an attachment point
            assert mac(m) in got_macs, f"{m} missing"
            port = _val(r, "destination_port", "ports", "port", "interface", "logical_interface")
            vlan = _val(r, "vlan_id", "vlan")
            row = [g for g in got if g[0] == mac(m) and (not port or g[1] == canon(port) or g[1] == "")]
            assert row, f"{m} on {port}: got {[g for g in got if g[0] == mac(m)]}"
            if vlan.isdigit() and 0 < int(vlan) < 4095:
                assert any(g[2] == int(vlan) for g in row), f"{m} vlan {vlan}"
    elif table == "arp":
        got_arp = {(a["ip"], a["mac"]): (port_name(doc, a["ifindex"]) or "").lower() for a in doc["arp"]}
        for r in expected:
            ip, m = _val(r, "ip_address", "address"), _val(r, "mac_address", "hardware_address")
            if not _is_mac(m) or not ip:
                continue
            assert (ip, mac(m)) in got_arp, f"{ip} {m} missing"
            itf = _val(r, "interface", "physical_port", "port")
            if itf and itf != "-":
                assert got_arp[(ip, mac(m))] == canon(itf)
    elif table in ("lldp", "cdp"):
        got_n = [(port_name(doc, n["ifindex"]) or "").lower() for n in doc[table]]
        names = {n["sys_name"] for n in doc[table]} | {n["chassis_id"] for n in doc[table]}
        ports = {n["port_id"] for n in doc[table]}
        for r in expected:
            local = _val(r, "local_interface", "local_port")
            if local:
                assert canon(local) in got_n, f"local port {local} not in {got_n}"
            name = _val(r, "neighbor_name", "neighbor")
            if name and name != "-":
                assert name in names or any(name in x for x in names), f"{name} missing"
            pid = _val(r, "neighbor_port_id", "neighbor_interface")
            if pid:
                assert pid in ports, f"port {pid} missing from {ports}"
        assert len(doc[table]) >= len([r for r in expected if _val(r, "local_interface", "neighbor_name",
                                                                     "neighbor_interface", "chassis_id")])
    elif table == "interfaces":
        got_i = {(port_name(doc, i["ifindex"]) or "").lower(): i for i in doc["interfaces"]}
        for r in expected:
            name = _val(r, "interface", "port")
            if not name:
                continue
            assert canon(name) in got_i, f"{name} missing"
    else:
        pytest.fail(f"no check for table {table}")


# ------------------------------------------------------------------ NAPALM
NAPALM_PLATFORM = {"ios": "cisco_ios", "nxos_ssh": "cisco_nxos", "eos": "arista_eos", "junos": "juniper_junos"}
NAPALM_CASES = _params(_cases(CLI / "napalm", "*/*/*/expected_result.json"),
                       lambda p: "napalm/" + "/".join(p.parts[-4:-1]), lambda p: "/".join(p.parts[-4:-1]))
# The file each getter reads (others in the case directory are context, e.g. facts.yml).
GETTER_FILES = {
    "get_mac_address_table": ("show_mac_address_table", "get-ethernet-switching-table-information",
                              "get-bridge-mac-table"),
    "get_arp_table": ("show_arp", "show_ip_arp", "get-arp-table-information"),
    "get_lldp_neighbors": ("show_lldp_neighbors_detail", "show_lldp_neighbors", "get-lldp-neighbors-information",
                           "show_lldp_neighbors__detail"),
    "get_lldp_neighbors_detail": ("show_lldp_neighbors_detail", "show_lldp_neighbors__detail",
                                  "get-lldp-interface-neighbors", "show_lldp_neighbors",
                                  "get-lldp-neighbors-information"),
    "get_interfaces": ("show_interfaces", "show_interface", "get-interface-information"),
}


def _napalm_files(case: Path, getter: str) -> list[Path]:
    files = [p for p in case.iterdir() if p.name != "expected_result.json" and p.suffix in (".txt", ".json", ".xml")]
    out: list[Path] = []
    for prefix in GETTER_FILES[getter]:
        out.extend(p for p in files if p.stem.startswith(prefix) and p not in out)
    return out[:1] if "lldp" not in getter else out


def _parse_all(platform: str, files: list[Path]) -> dict[str, Any]:
    """All files of a case read together, as one poll of the switch would."""
    return sensor_parse(platform, [command_of(f.name) for f in files], files)


@pytest.mark.parametrize("expected_file", NAPALM_CASES)
def test_napalm_case(expected_file: Path) -> None:
    case = expected_file.parent
    driver, getter = case.parent.parent.name, case.parent.name
    case_id = f"napalm/{driver}/{getter}/{case.name}"
    _unsupported(case_id)
    platform = NAPALM_PLATFORM[driver]
    files = _napalm_files(case, getter)
    assert files, f"no raw output for {getter} in {case}"
    expected = json.loads(expected_file.read_text())
    doc = _parse_all(platform, files)
    check_napalm(getter, platform, expected, doc)


def check_napalm(getter: str, platform: str, expected: Any, doc: dict[str, Any]) -> None:
    def canon(n: str) -> str:
        c = canonical_name(n, platform).lower()
        return NAPALM_ALIASES.get(c, c)

    if getter == "get_mac_address_table":
        got = {(f["mac"], f["vlan"]): f for f in doc["fdb"]}
        for e in expected:
            if int(mac(e["mac"])[:2], 16) & 1:
                continue  # group addresses are never devices: the sensor drops them
            key = (mac(e["mac"]), e["vlan"] if e["vlan"] > 0 else None)
            assert key in got or any(k[0] == key[0] for k in got), f"{e['mac']} vlan {e['vlan']} missing"
            f = got.get(key) or next(v for k, v in got.items() if k[0] == key[0])
            name = port_name(doc, f["ifindex"])
            if name is not None:
                assert name.lower() == canon(e["interface"]), f"{e['mac']}: {name} != {e['interface']}"
            else:
                assert f["status"] == "self" or not e["active"] or e["static"], f"{e} has no port"
    elif getter == "get_arp_table":
        got = {(a["ip"], a["mac"]): port_name(doc, a["ifindex"]) for a in doc["arp"]}
        want = {(e["ip"], mac(e["mac"])): e["interface"] for e in expected if _is_mac(e["mac"])}
        assert set(got) == set(want)
        for k, itf in want.items():
            if itf:
                assert (got[k] or "").lower() == canon(itf.split(",")[0].strip())
    elif getter in ("get_lldp_neighbors", "get_lldp_neighbors_detail"):
        got: dict[str, list[dict[str, Any]]] = {}
        for n in doc["lldp"]:
            got.setdefault((port_name(doc, n["ifindex"]) or "").lower(), []).append(n)
        for local, neighbors in expected.items():
            assert canon(local) in got, f"local port {local} missing (have {sorted(got)})"
            for e in neighbors:
                name = e.get("hostname", e.get("remote_system_name", ""))
                port = e.get("port", e.get("remote_port", ""))
                candidates = got[canon(local)]
                match = [n for n in candidates if n["sys_name"] == name or not name
                         or (_is_mac(name) and mac(name) in (mac(n["sys_name"]), mac(n["chassis_id"])))]
                assert match, f"{local}: {name!r} not in {[n['sys_name'] for n in candidates]}"
                if port:
                    norm = mac if _is_mac(port) else (lambda x: x)
                    assert any(norm(port) in (norm(n["port_id"]), norm(n["port_descr"])) for n in match), \
                        f"{local} {name}: port {port!r} not in {[(n['port_id'], n['port_descr']) for n in match]}"
                if e.get("remote_chassis_id"):
                    assert any(mac(n["chassis_id"]) == mac(e["remote_chassis_id"]) for n in match)
                if e.get("remote_system_description"):
                    assert any(n["sys_desc"].strip() == e["remote_system_description"].strip() for n in match)
                if e.get("remote_system_enable_capab"):
                    # NAPALM spells two capabilities differently from LLDP-MIB (what SNMP gives).
                    napalm = {"wlan-access-point": "wlan-ap", "docsis-cable-device": "docsis"}
                    want = {napalm.get(c, c) for c in e["remote_system_enable_capab"]}
                    assert any(want <= set(n["capabilities"]) for n in match)
    elif getter == "get_interfaces":
        got = {(port_name(doc, i["ifindex"]) or "").lower(): i for i in doc["interfaces"]}
        for name, e in expected.items():
            assert canon(name) in got, f"{name} missing"
            i = got[canon(name)]
            assert i["oper_up"] == e["is_up"], f"{name} up"
            assert (i["alias"] or "") == (e["description"] or ""), f"{name} description"
            if e.get("mac_address") and _is_mac(e["mac_address"]) and i["phys_address"]:
                assert i["phys_address"] == mac(e["mac_address"]), f"{name} mac"
            if e.get("speed") and e["speed"] > 0 and i["speed"]:
                assert abs(i["speed"] - e["speed"]) <= max(1, e["speed"] * 0.01), f"{name} speed"
    else:
        pytest.fail(f"no check for getter {getter}")


# ------------------------------------------------------------------ py-junos-eznc
PYEZ_CASES = _params(_cases(CLI / "junos-xml" / "pyez", "*.xml"), lambda p: f"junos-xml/{p.stem}", lambda p: p.stem)


@pytest.mark.parametrize("xml", PYEZ_CASES)
def test_pyez_case(xml: Path) -> None:
    _unsupported(f"junos-xml/{xml.stem}")
    rpc = xml.stem.split("_", 1)[-1] if xml.stem.startswith(("els_", "vlan_")) else xml.stem
    command = {"show_arp_no-resolve": "show arp no-resolve"}.get(rpc, rpc)
    doc = sensor_parse("juniper_junos", command, xml)
    exp_file = xml.with_suffix(".expected.json")
    expected = json.loads(exp_file.read_text()) if exp_file.exists() else {}
    check_pyez(command_table(command), expected, doc)


def check_pyez(table: str, expected: dict[str, Any], doc: dict[str, Any]) -> None:
    if table == "fdb":
        assert len([f for f in doc["fdb"] if f["status"] != "self"]) == expected["mac_entries"]
        assert "fdb" in doc["provided"]
    elif table == "arp":
        assert len(doc["arp"]) == expected["expected_row_count"]
        assert expected["expected_contains_ip"] in {a["ip"] for a in doc["arp"]}
        ip, m = expected["expected_contains_key_ip_mac"]
        assert (ip, m) in {(a["ip"], a["mac"]) for a in doc["arp"]}
    elif table == "lldp":
        assert {port_name(doc, n["ifindex"]) for n in doc["lldp"]} == set(expected["expected_keys"])
    elif table == "interfaces":
        names = {port_name(doc, i["ifindex"]) for i in doc["interfaces"]}
        assert set(expected["expected_keys"]) <= names
    else:
        pytest.fail(f"no check for table {table}")
