"""ncclient's real path end to end: ``sensor poll --json`` against a NETCONF-over-SSH server.

The server (tests/netconf/server.py, the PyPI ``netconf`` package on 127.0.0.1) announces
OpenConfig, IETF+OpenConfig or Junos in its hello; the collector must choose the models from
those capabilities, ask with subtree filters (or the Junos RPCs) and map the replies to the
same facts whatever the shape. Also: host keys are checked, a wrong key is reported in one
line, and a switch whose SNMP is dead falls back to NETCONF and says so.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.netconf.server import NetconfServer
from tests.netconf.server import example_state as state

pytest.importorskip("ncclient")
pytest.importorskip("netconf")

SENSOR = [sys.executable, "-m", "sensor.cli"]
FAMILIES = ("openconfig", "ietf", "junos")


def config(tmp_path: Path, srv: NetconfServer, *, methods: str = '["netconf"]', extra: str = "",
           known_hosts: Path | None = None, key_file: Path | None = None) -> Path:
    tmp_path.mkdir(mode=0o700, exist_ok=True)
    kh = known_hosts or srv.known_hosts(tmp_path / "known_hosts")
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f"""
[sensor]
site = "test"
state_dir = "{tmp_path / 'state'}"

[[switch]]
name = "nc-sw"
host = "127.0.0.1"
methods = {methods}
deadline = "60s"
{extra}
[switch.netconf]
username = "sensor"
port = {srv.port}
key_file = "{key_file or srv.key_file}"
host_key_file = "{kh}"
timeout = "10s"
""")
    return cfg


def poll(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SENSOR, "poll", "--config", str(cfg), "nc-sw", *args], capture_output=True,
                          text=True, timeout=120)


def devices_on_ports(doc: dict[str, Any]) -> set[tuple[str, int | None, str, int | None]]:
    names = {i["ifindex"]: i["name"] for i in doc["interfaces"]}
    return {(f["mac"], f["vlan"], names.get(f["ifindex"], "?"), f["ifindex"]) for f in doc["fdb"]
            if f["status"] == "learned"}


@pytest.fixture(autouse=True)
def _quiet_paramiko() -> None:
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)


@pytest.mark.parametrize("family", FAMILIES)
def test_sensor_poll_over_netconf(family: str, tmp_path: Path) -> None:
    s = state()
    with NetconfServer(family, lambda: s, tmp_path / "srv") as srv:
        res = poll(config(tmp_path, srv), "--json")
        gets, rpcs = list(srv.gets), list(srv.rpcs)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["errors"] == []
    expected_methods = {"interfaces", "fdb", "arp", "lldp"}
    assert {t for t, m in doc["methods"].items() if m == "netconf"} >= expected_methods
    # Same devices on the same ports (by name and by ifIndex, which every shape carries).
    assert devices_on_ports(doc) == {
        ("58:42:e4:12:10:21", 10, "ge1", 4), ("00:09:fb:12:10:22", 10, "ge2", 5), ("28:99:3a:02:00:00", 10, "ge24", 9)}
    assert {(f["mac"], f["status"]) for f in doc["fdb"]} >= {("00:09:fb:12:10:99", "mgmt")}
    assert {i["name"]: (i["ifindex"], i["oper_up"]) for i in doc["interfaces"]} == {
        "ge1": (4, True), "ge2": (5, True), "ge3": (6, False), "ge24": (9, True)}
    arp = {(a["ip"], a["mac"], a["ifindex"]) for a in doc["arp"]}
    assert arp == {("198.18.0.100", "a0:36:9f:00:00:64", 9), ("198.18.10.21", "58:42:e4:12:10:21", 4)}
    (n,) = doc["lldp"]
    assert (n["ifindex"], n["sys_name"], n["port_id"], n["chassis_id"]) == (9, "dist", "ge1", "28:99:3a:02:00:00")
    assert n["capabilities"] == ["bridge", "router"] and n["mgmt_ip"] == "198.18.0.1"
    if family == "junos":
        assert rpcs == ["get-interface-information", "get-ethernet-switching-table-information",
                        "get-arp-table-information", "get-lldp-neighbors-information"]
        assert gets == []
    else:
        assert gets and all('type="subtree"' in g and "><" in g for g in gets), gets  # never the whole datastore
        roots = {"openconfig": ("openconfig.net/yang/interfaces", "network-instance", "yang/lldp", "yang/system"),
                 "ietf": ("ietf-interfaces", "network-instance", "yang/lldp")}[family]
        assert len(gets) == len(roots) and all(r in g for r, g in zip(roots, gets, strict=True)), gets
    if family == "openconfig":
        assert doc["system"]["sys_name"] == "nc-sw"


def test_table_output_says_which_method(tmp_path: Path) -> None:
    s = state()
    with NetconfServer("openconfig", lambda: s, tmp_path / "srv") as srv:
        res = poll(config(tmp_path, srv))
    assert res.returncode == 0, res.stderr
    assert "Forwarding table (4, via netconf)" in res.stdout
    assert "fdb 4 (netconf)" in res.stdout  # the summary: tables read whole, each with its method


def test_unknown_host_key_and_wrong_client_key_fail_in_one_line(tmp_path: Path) -> None:
    s = state()
    with NetconfServer("openconfig", lambda: s, tmp_path / "srv") as srv, \
            NetconfServer("openconfig", lambda: s, tmp_path / "other") as other:
        wrong_kh = tmp_path / "wrong_kh"
        wrong_kh.write_text(other.known_hosts(tmp_path / "o").read_text().replace(str(other.port), str(srv.port)))
        res = poll(config(tmp_path / "a", srv, known_hosts=wrong_kh), "--json")
        assert res.returncode == 1 and res.stdout == "" and res.stderr.count("\n") == 1, res.stderr
        assert "host key" in res.stderr and "Traceback" not in res.stderr

        res = poll(config(tmp_path / "b", srv, key_file=other.key_file), "--json")
        assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
        assert "authentication failed for sensor" in res.stderr


def test_dead_snmp_falls_back_to_netconf(tmp_path: Path) -> None:
    from tests.snmp.agents import free_udp_port

    s = state()
    tmp_path.chmod(0o700)
    community = tmp_path / "community"
    community.write_text("public\n")
    community.chmod(0o600)
    snmp = f"""[switch.snmp]
version = "2c"
port = {free_udp_port()}
community_file = "{community}"
timeout = "200ms"
retries = 0
"""
    with NetconfServer("junos", lambda: s, tmp_path / "srv") as srv:
        res = poll(config(tmp_path, srv, methods='["snmp", "netconf"]', extra=snmp), "--json")
    # NETCONF answered, SNMP did not: it worked, but degraded (exit 3), and the SNMP failure is said.
    assert res.returncode == 3, res.stderr
    assert "snmp failed: no answer" in res.stderr
    doc = json.loads(res.stdout)
    assert any(e.startswith("snmp: no answer") for e in doc["errors"]), doc["errors"]
    assert {doc["methods"][t] for t in ("interfaces", "fdb", "arp", "lldp")} == {"netconf"}
    assert ("58:42:e4:12:10:21", 10, "ge1", 4) in devices_on_ports(doc)
