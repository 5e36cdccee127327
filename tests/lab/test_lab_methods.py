"""``sensor poll`` against the lab's sw1 over snmp, cli and netconf lists the same devices on the same ports.

- snmp and cli: the lab's own sensor.toml (sw1: ``methods = ["snmp", "cli"]``), narrowed to one
  method, run from es-mgmt like the appliance would (cli: OpenSSH in es-sw1, key auth, netmiko).
- netconf: sw1 has no NETCONF server of its own; the test NETCONF server serves sw1's real state
  (the kernel's FDB, links and neighbours and lldpd's neighbours, read in es-sw1 at request time)
  as OpenConfig, IETF and Junos replies on 127.0.0.1, and ``sensor poll`` reads it through ncclient.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import labkit

SENSOR = [sys.executable, "-m", "sensor.cli"]


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    with labkit.running_lab() as lab:
        yield lab


def lab_config(tmp_path: Path, methods: str) -> Path:
    text = (labkit.STATE / "sensor.toml").read_text()
    text, n = re.subn(r'(name = "sw1"\nhost = "[^"]+"\n)methods = \[[^\]]*\]', rf"\1methods = {methods}", text)
    assert n == 1
    cfg = tmp_path / f"sensor-{re.sub(r'[^a-z]', '', methods)}.toml"
    cfg.write_text(text)
    return cfg


def poll(cfg: Path, *, ns: str | None = labkit.MGMT_NS) -> dict[str, Any]:
    argv = [*SENSOR, "poll", "--config", str(cfg), "sw1", "--json"]
    if ns:
        argv = ["ip", "netns", "exec", ns, *argv]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=str(labkit.REPO))
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def devices(doc: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """MAC -> (ifIndex, port name) for every learned FDB entry on a port."""
    names = {i["ifindex"]: i["name"] for i in doc["interfaces"]}
    return {f["mac"]: (f["ifindex"], names.get(f["ifindex"], "?")) for f in doc["fdb"]
            if f["status"] == "learned" and f["ifindex"] is not None}


def neighbours(doc: dict[str, Any]) -> set[tuple[int, str, str, str]]:
    return {(n["ifindex"], n["sys_name"], n["port_id"], n["chassis_id"]) for n in doc["lldp"]}


@pytest.fixture(scope="module")
def snmp(lab: labkit.Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    doc = poll(lab_config(tmp_path_factory.mktemp("snmp"), '["snmp"]'))
    assert set(doc["methods"].values()) == {"snmp"}
    assert devices(doc) and neighbours(doc)
    return doc


def test_lab_config_polls_sw1_with_snmp_then_cli(lab: labkit.Lab, snmp: dict[str, Any]) -> None:
    res = labkit.run_in_ns(labkit.MGMT_NS, [*SENSOR, "check-config", str(labkit.STATE / "sensor.toml")],
                           timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    doc = poll(labkit.STATE / "sensor.toml")
    assert doc["methods"]["fdb"] in ("snmp", "cli") and doc["errors"] == []
    assert devices(doc) == devices(snmp)


def test_cli_lists_the_same_devices_on_the_same_ports(lab: labkit.Lab, snmp: dict[str, Any],
                                                      tmp_path: Path) -> None:
    doc = poll(lab_config(tmp_path, '["cli"]'))
    assert {doc["methods"][t] for t in ("interfaces", "fdb", "arp", "lldp")} == {"cli"}
    assert doc["errors"] == []
    assert devices(doc) == devices(snmp)
    assert neighbours(doc) == neighbours(snmp)
    phones = {d["mac"] for d in lab.devices}
    assert phones <= set(devices(doc)) - {lab.switch("sw1").get("base_mac")}


@pytest.mark.parametrize("family", ["openconfig", "ietf", "junos"])
def test_netconf_lists_the_same_devices_on_the_same_ports(lab: labkit.Lab, snmp: dict[str, Any],
                                                          family: str, tmp_path: Path) -> None:
    pytest.importorskip("netconf")
    from tests.netconf.server import NetconfServer, linux_state

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    tmp_path.chmod(0o700)
    sock = str(labkit.STATE / "sw1" / "lldpd.sock")
    with NetconfServer(family, lambda: linux_state("es-sw1", sock, "sw1"), tmp_path / "srv") as srv:
        cfg = tmp_path / "sensor.toml"
        cfg.write_text(f"""
[sensor]
site = "lab"
state_dir = "{tmp_path / 'state'}"

[[switch]]
name = "sw1"
host = "127.0.0.1"
methods = ["netconf"]
[switch.netconf]
username = "sensor"
port = {srv.port}
key_file = "{srv.key_file}"
host_key_file = "{srv.known_hosts(tmp_path / 'known_hosts')}"
timeout = "20s"
""")
        doc = poll(cfg, ns=None)  # the server listens on 127.0.0.1 of the root namespace
    assert {doc["methods"][t] for t in ("interfaces", "fdb", "arp", "lldp")} == {"netconf"}
    assert doc["errors"] == []
    assert devices(doc) == devices(snmp)
    assert neighbours(doc) == neighbours(snmp)
