"""The lab's sw1 over SSH through netmiko (platform linux) says what SNMP says (FDB MAC->port, LLDP, its own
LLDP chassis id)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.lab import labkit

SCRIPT = r'''
import asyncio, json, sys
from collectors.cli.ssh import CliTarget, poll as cli_poll
from collectors.snmp import close_engines, poll as snmp_poll
from sensor.switches.targets import snmp_target
from sensor.config import load_config
S = "/run/edge-sensor-lab"
cfg = load_config(S + "/sensor.toml")
sw = cfg.find_switch("sw1")
t, _ = asyncio.run(cli_poll("sw1", CliTarget(host=sw.host, platform="linux", username="root",
                   key_file=S + "/secrets/cli-key", host_key_file=S + "/known_hosts", timeout=20)))
async def snmp():
    target, creds = snmp_target(sw)
    try:
        return await snmp_poll("sw1", target, creds)
    finally:
        close_engines()
r = asyncio.run(snmp())
def facts(fdb, lldp):
    return {"fdb": sorted([f.mac, f.ifindex] for f in fdb if f.status == "learned"),
            "lldp": sorted([n.ifindex, n.sys_name, n.port_id, n.chassis_id] for n in lldp)}
print(json.dumps({"cli": facts(t.fdb or [], t.lldp or []), "snmp": facts(r.snapshot.fdb, r.snapshot.lldp),
                  "errors": t.errors, "provided": t.provided(),
                  "chassis": [s.lldp_chassis_id if s else None for s in (t.system, r.snapshot.system)]}))
'''


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    with labkit.running_lab() as lab:
        yield lab


def test_cli_over_ssh_equals_snmp(lab: labkit.Lab) -> None:
    res = subprocess.run(["ip", "netns", "exec", "es-mgmt", sys.executable, "-c", SCRIPT], capture_output=True,
                         text=True, timeout=120, cwd=str(labkit.REPO))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert not doc["errors"]
    assert {"system", "interfaces", "fdb", "arp", "lldp"} <= set(doc["provided"])
    assert doc["cli"]["fdb"] == doc["snmp"]["fdb"] and doc["cli"]["fdb"]
    assert doc["cli"]["lldp"] == doc["snmp"]["lldp"] and doc["cli"]["lldp"]
    cli_chassis, snmp_chassis = doc["chassis"]
    seen_by_dist = next(lk["neighbor_chassis_id"] for lk in lab.data["lldp_links"]
                        if lk["switch"] == "dist" and lk["neighbor"] == "sw1")
    assert cli_chassis == snmp_chassis == seen_by_dist
