"""The collector against the namespace lab: real snmpd + lldpd + a kernel bridge (lab/README.md).

``sensor poll --json`` runs inside es-mgmt, like the appliance would, over v2c and v3 authPriv.
Ground truth is lab.json, written by lab/up from what the kernel really assigned.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import labkit

REPO = Path(__file__).resolve().parents[2]
SENSOR = str(REPO / ".venv" / "bin" / "sensor")
PYTHON = str(REPO / ".venv" / "bin" / "python")


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    with labkit.running_lab() as lab:
        lab.traffic()  # fresh FDB, ARP and ND entries
        yield lab


@pytest.fixture(scope="module")
def config(lab: labkit.Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lab-sensor")
    d.chmod(0o700)
    creds = lab.data["credentials"]
    v3 = creds["v3"]
    wrong = d / "wrong-auth"
    wrong.write_text("definitely-not-the-key\n")
    wrong.chmod(0o600)
    sw1, dist = lab.switch("sw1"), lab.switch("dist")

    def v3_block(auth_file: str) -> str:
        return (f'version = "3"\nuser = "{v3["user"]}"\nauth_protocol = "{v3["auth_protocol"]}"\n'
                f'auth_key_file = "{auth_file}"\npriv_protocol = "{v3["priv_protocol"]}"\n'
                f'priv_key_file = "{v3["priv_key_file"]}"\n')

    v2c = f'version = "2c"\ncommunity_file = "{creds["community_file"]}"\n'
    body = f'[sensor]\nsite = "lab"\nstate_dir = "{d / "state"}"\n'
    for name, host, snmp in [
        ("sw1-v2c", sw1["mgmt_ip"], v2c),
        ("sw1-v3", sw1["mgmt_ip"], v3_block(v3["auth_key_file"])),
        ("dist", dist["mgmt_ip"], v2c),
        ("gone", "198.18.0.99", v2c),  # in es-mgmt's subnet; nothing answers there
        ("sw1-badkey", sw1["mgmt_ip"], v3_block(str(wrong))),
    ]:
        body += (f'\n[[switch]]\nname = "{name}"\nhost = "{host}"\ninterval = "1m"\ndeadline = "30s"\n'
                 f'[switch.snmp]\n{snmp}timeout = "1s"\nretries = 1\n')
    cfg = d / "sensor.toml"
    cfg.write_text(body)
    return cfg


def poll(lab: labkit.Lab, cfg: Path, switch: str) -> subprocess.CompletedProcess[str]:
    return lab.run(labkit.MGMT_NS, [SENSOR, "poll", "--config", str(cfg), switch, "--json"], timeout=60)


def poll_ok(lab: labkit.Lab, cfg: Path, switch: str) -> dict[str, Any]:
    res = poll(lab, cfg, switch)
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    assert doc["errors"] == []
    return doc


@pytest.mark.parametrize("switch", ["sw1-v2c", "sw1-v3"])
def test_access_switch(lab: labkit.Lab, config: Path, switch: str) -> None:
    truth = lab.switch("sw1")
    doc = poll_ok(lab, config, switch)
    assert doc["system"]["sys_name"] == truth["sys_name"]
    assert doc["system"]["base_mac"] == truth["base_mac"]
    # lldpd's own chassis id (a port MAC, not br0's): the one dist receives for sw1 over LLDP
    seen_by_dist = next(lk["neighbor_chassis_id"] for lk in lab.data["lldp_links"]
                        if lk["switch"] == "dist" and lk["neighbor"] == "sw1")
    assert doc["system"]["lldp_chassis_id"] == seen_by_dist != truth["base_mac"]
    names = {i["ifindex"]: i["name"] for i in doc["interfaces"]}
    for ifname, port in truth["bridge_ports"].items():
        assert names.get(port["ifindex"]) == ifname  # the bridge port number is never used as ifIndex

    fdb = {(f["mac"], f["vlan"]): f for f in doc["fdb"]}
    for dev in lab.devices:
        row = fdb.get((dev["mac"], dev["vlan"]))
        assert row is not None, f"{dev['name']} {dev['mac']} not in the FDB"
        assert (row["ifindex"], row["status"]) == (dev["ifindex"], "learned"), dev["name"]

    lldp = doc["lldp"]
    for link in (lk for lk in lab.data["lldp_links"] if lk["switch"] == "sw1"):
        hits = [n for n in lldp if n["sys_name"] == link["neighbor"]]
        assert len(hits) == 1, (link, lldp)
        n = hits[0]
        assert n["ifindex"] == link["ifindex"] and n["port_id"] == link["neighbor_port"]
        assert set(link["neighbor_capabilities"]) <= set(n["capabilities"])
        if link.get("neighbor_chassis_id"):
            assert n["chassis_id"] == link["neighbor_chassis_id"]


def test_router_arp_and_neighbours(lab: labkit.Lab, config: Path) -> None:
    truth = lab.switch("dist")
    doc = poll_ok(lab, config, "dist")
    arp = {(a["ip"], a["mac"]): a for a in doc["arp"]}
    svi = truth["svi"]["ifindex"]
    for dev in lab.devices:
        for ip in (dev["ipv4"], dev["ipv6"]):
            row = arp.get((ip, dev["mac"]))
            assert row is not None, f"{dev['name']} {ip} missing from ARP/ND"
            assert row["ifindex"] == svi
    for srv in lab.data["servers"]:
        assert (srv["ipv4"], srv["mac"]) in arp
    link = next(lk for lk in lab.data["lldp_links"] if lk["switch"] == "dist")
    (n,) = [n for n in doc["lldp"] if n["sys_name"] == link["neighbor"]]
    assert n["ifindex"] == link["ifindex"] and n["port_id"] == link["neighbor_port"]


def test_unreachable_switch_one_clear_line(lab: labkit.Lab, config: Path) -> None:
    res = poll(lab, config, "gone")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.splitlines() == [
        "sensor poll: gone: no answer from 198.18.0.99:161 within 2s (check the address, UDP/161 reachability "
        "and the community: agents silently drop a wrong one)"]


def test_wrong_v3_key_one_clear_line(lab: labkit.Lab, config: Path) -> None:
    res = poll(lab, config, "sw1-badkey")
    assert res.returncode == 1
    (line,) = res.stderr.splitlines()
    assert "rejected the authentication of SNMPv3 user" in line and "wrong auth_key_file" in line


def test_bad_switches_do_not_hold_up_the_others(lab: labkit.Lab, config: Path) -> None:
    """All sources cycled at once, as the supervisor does: each gets its own health on switches/{name}."""
    script = textwrap.dedent(f"""
        import asyncio, json, sys
        import msgspec
        from sensor import log
        from sensor.config import load_config
        from sensor.errors import SourceError
        from sensor.metrics import Metrics
        from sensor.sources import SourceContext
        from sensor.supervisor import build_sources

        log.configure("info", stream=sys.stderr)  # as `sensor run` does: stdout is the result

        async def main():
            obs = asyncio.Queue()
            sources = build_sources(load_config({str(config)!r}))
            async def one(src):
                try:
                    await src.cycle(SourceContext(src.name, obs, None, Metrics()))
                except SourceError:
                    pass
            await asyncio.gather(*(one(s) for s in sources))
            out = {{}}
            while not obs.empty():
                o = obs.get_nowait()
                out[o.topic] = msgspec.to_builtins(o.data)
            print(json.dumps(out))
        asyncio.run(main())
    """)
    res = lab.run(labkit.MGMT_NS, [PYTHON, "-c", script], timeout=60)
    assert res.returncode == 0, res.stderr
    health = json.loads(res.stdout)
    assert set(health) == {f"switches/{n}" for n in ("sw1-v2c", "sw1-v3", "dist", "gone", "sw1-badkey")}
    for ok in ("sw1-v2c", "sw1-v3", "dist"):
        h = health[f"switches/{ok}"]
        assert h["ok"] and h["last_error"] is None and h["duration_s"] < 10, h
    assert "no answer" in health["switches/gone"]["last_error"]
    assert "rejected the authentication" in health["switches/sw1-badkey"]["last_error"]
