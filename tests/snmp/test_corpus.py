"""Conformance: ``sensor poll --json`` against recordings of 12 real switches, compared with what
LibreNMS discovered from the same recordings (../shared/corpus/snmp, see its README).

One snmpsim serves all recordings (community = device name); the sensor runs as the real CLI,
in a subprocess, with a config pointing at it. Where the sensor differs from LibreNMS on
purpose, the comparison below says so and why.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.snmp import agents
from tests.snmp.conftest import write_secret

DEVICES = agents.corpus_devices()
pytestmark = pytest.mark.skipif(not DEVICES, reason=f"SNMP corpus not found at {agents.CORPUS} (../shared absent)")
SENSOR = [sys.executable, "-m", "sensor.cli"]


@pytest.fixture(scope="module")
def corpus_config(corpus_agent: int, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("corpus-config")
    d.chmod(0o700)
    body = [f'[sensor]\nsite = "corpus"\nstate_dir = "{d / "state"}"\n']
    for dev in DEVICES:
        secret = write_secret(d / f"{dev}.community", dev)
        name = re.sub(r"[^A-Za-z0-9._-]", "-", dev)
        # vlan_indexing = false: a recording is one agent context; snmpsim has no community@vlan
        # views of it (the per-VLAN path is tested in test_poll.py with its own recordings).
        body.append(f'[[switch]]\nname = "{name}"\nhost = "127.0.0.1"\ndeadline = "60s"\n'
                    f'[switch.snmp]\nversion = "2c"\nport = {corpus_agent}\ncommunity_file = "{secret}"\n'
                    f'timeout = "5s"\nvlan_indexing = false\n')
    cfg = d / "sensor.toml"
    cfg.write_text("\n".join(body))
    return cfg


def poll_json(cfg: Path, switch: str) -> dict[str, Any]:
    res = subprocess.run([*SENSOR, "poll", "--config", str(cfg), switch, "--json"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1, "--json prints exactly one line"
    doc: dict[str, Any] = json.loads(lines[0])
    assert set(doc) == {"system", "interfaces", "fdb", "arp", "lldp", "cdp", "errors", "methods", "degraded", "summary"}
    assert set(doc["methods"].values()) == {"snmp"}
    return doc


def _alias_matches(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    if ours["alias"] == theirs["ifAlias"]:
        return True
    # Deliberate: LibreNMS shows ifDescr (or ifName) where the agent's ifAlias is empty; the sensor
    # reports the agent's empty alias, since ifAlias is the operator's description of the port.
    if ours["alias"] == "" and theirs["ifAlias"] in (theirs["ifDescr"], theirs["ifName"]):
        return True
    # Deliberate: LibreNMS strips backslashes from aliases (Arista "\A EDICION-1\"); the sensor
    # reports the bytes the switch sent.
    if ours["alias"].replace("\\", "") == theirs["ifAlias"]:
        return True
    # Deliberate: Dell OS sends an alias of NUL bytes; LibreNMS prints them as dots (".."), the
    # sensor drops NULs (an empty alias).
    return bool(ours["alias"] == "" and set(theirs["ifAlias"]) == {"."})


_HEX_BYTES = re.compile(r"^[0-9A-Fa-f]{2}( [0-9A-Fa-f]{2})+$")


def _port_forms(expected: str) -> set[str]:
    """LibreNMS's remote_port as the sensor would write it."""
    # Deliberate: the corpus appends the remote chassis MAC in parentheses; the sensor keeps the
    # chassis ID in its own field.
    port = re.sub(r" \([0-9a-f]{12}\)$", "", expected)
    forms = {port.casefold()}
    if _HEX_BYTES.match(port):
        # Deliberate: LibreNMS prints a binary port ID as hex bytes ("1C AF F7 91 3C E9"); the
        # sensor writes a MAC-subtype ID as a MAC and a text ID as text ("1/25").
        raw = bytes.fromhex(port.replace(" ", ""))
        forms.add(raw.hex(":") if len(raw) == 6 else raw.rstrip(b"\0").decode("latin-1").casefold())
    return forms


@pytest.mark.parametrize("device", DEVICES)
def test_device(device: str, corpus_config: Path) -> None:
    expected = json.loads((agents.CORPUS / device / "librenms-expected.json").read_text())
    doc = poll_json(corpus_config, re.sub(r"[^A-Za-z0-9._-]", "-", device))
    assert doc["errors"] == []
    assert doc["system"]["sys_object_id"] == expected["system"]["sysObjectID"].lstrip(".")
    assert doc["system"]["sys_descr"].replace("\n", "") == re.sub(r"[\r\n]", "", expected["system"]["sysDescr"])

    # Interfaces: every port LibreNMS lists, with the same ifIndex, ifName and ifAlias. The sensor
    # lists more on some devices (Arista, Cisco SB, Ubiquiti, Dell, Juniper, MikroTik) on purpose:
    # LibreNMS hides ports by per-OS rules (VLAN interfaces, CPU and stack ports, bad_if lists),
    # while a device attached anywhere must be attributable to the port the switch names.
    ours = {i["ifindex"]: i for i in doc["interfaces"]}
    for port in expected["ports"]:
        mine = ours.get(port["ifIndex"])
        assert mine is not None, f"ifIndex {port['ifIndex']} ({port['ifName']}) missing"
        assert mine["name"] == port["ifName"], port
        assert _alias_matches(mine, port), (mine["alias"], port)

    if expected.get("fdb"):
        # Same rows exactly. The sensor also keeps rows LibreNMS drops for having no port: the
        # switch's own MACs (status self) and port-0/CPU entries, with ifindex null; the correlator
        # uses those to recognise the switch's own addresses.
        theirs = {(f["mac_address"], f["ifIndex"], f["vlan_vlan"]) for f in expected["fdb"]}
        mine_fdb = {(f["mac"].replace(":", ""), f["ifindex"], f["vlan"]) for f in doc["fdb"] if f["ifindex"]}
        assert mine_fdb == theirs
        assert len(doc["fdb"]) - len(mine_fdb) <= 10  # only the switch's own/CPU rows lack a port

    if expected.get("arp"):
        theirs_arp = {(a["mac_address"], a["ipv4_address"]) for a in expected["arp"]}
        mine_arp = {(a["mac"].replace(":", ""), a["ip"]) for a in doc["arp"]}
        assert theirs_arp <= mine_arp

    if expected.get("links"):
        names = {i["ifindex"]: i["name"] for i in doc["interfaces"]}
        neighbours = doc["lldp"] + doc["cdp"]
        for link in expected["links"]:
            hits = [n for n in neighbours
                    if n["protocol"] == link["protocol"] and names.get(n["ifindex"]) == link["ifName"]
                    and n["sys_name"] == link["remote_hostname"]
                    and {n["port_id"].casefold(), n["port_descr"].casefold()} & _port_forms(link["remote_port"])]
            assert len(hits) == 1, (link, [(names.get(n["ifindex"]), n["sys_name"], n["port_id"]) for n in neighbours])
            if link["remote_platform"]:
                assert hits[0]["platform"] == link["remote_platform"]
        for proto in ("lldp", "cdp"):
            listed = [lk for lk in expected["links"] if lk["protocol"] == proto]
            if listed:
                assert len(doc[proto]) == len(listed), proto
        # Deliberate: Cisco SB answers CDP too; LibreNMS skips a CDP neighbour that LLDP already
        # found on the same port, the sensor reports both (each protocol says something different).
        if not any(lk["protocol"] == "cdp" for lk in expected["links"]):
            lldp_ports = {n["ifindex"] for n in doc["lldp"]}
            assert all(n["ifindex"] in lldp_ports for n in doc["cdp"])
