"""Correlation scenarios against the real lab, through the real SNMP collector.

Snapshots come from ``sensor poll --json`` run in the sensor's namespace (es-mgmt),
exactly as an engineer would run it; they go through the same Correlator the
sensor runs. Needs root and network namespaces (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.facts import Snapshot
from sensor.config import load_config
from sensor.correlate.engine import Correlator
from tests.lab import labkit

SENSOR = str(Path(sys.executable).with_name("sensor"))


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    with labkit.running_lab() as lab:
        labkit.run_in_ns("es-mgmt", ["true"])
        lab.traffic()
        yield lab


def config_path(lab: labkit.Lab, tmp: Path, extra: str = "") -> Path:
    """The lab's sensor.toml with a short absence and the correlation sections under test."""
    src = (lab.state / "sensor.toml").read_text()
    p = tmp / "sensor.toml"
    p.write_text(src + "\n" + extra)
    os.chmod(tmp, 0o700)
    return p


def poll(cfg: Path, switch: str) -> Snapshot:
    res = labkit.run_in_ns("es-mgmt", [SENSOR, "poll", "--config", str(cfg), switch, "--json"], timeout=120)
    assert res.returncode == 0, res.stderr
    return labkit.snapshot_from_poll(json.loads(res.stdout), switch)


def cycle(c: Correlator, cfg: Path, *switches: str):
    snaps = [poll(cfg, s) for s in switches]
    return c.ingest(snaps, now=time.time())


@pytest.fixture
def correlator(lab: labkit.Lab, tmp_path: Path) -> tuple[Correlator, Path]:
    cfg = config_path(lab, tmp_path, '[correlation]\nabsence = "1s"\n')
    return Correlator.from_config(load_config(cfg)), cfg


def test_lab_devices_attach_to_their_access_ports(lab: labkit.Lab, correlator: tuple[Correlator, Path]) -> None:
    c, cfg = correlator
    out = cycle(c, cfg, "dist", "sw1")
    recs = out.records
    seen_by_dist = next(lk["neighbor_chassis_id"] for lk in lab.data["lldp_links"]
                        if lk["switch"] == "dist" and lk["neighbor"] == "sw1")
    for d in lab.devices:
        r = recs[d["mac"]]
        assert r.attachment is not None, d["name"]
        assert (r.attachment.switch, r.attachment.port, r.attachment.vlan) == ("sw1", d["port"], d["vlan"]), d["name"]
        assert d["ipv4"] in [i.ip for i in r.ips], d["name"]
        # switch_id is sw1's own LLDP chassis id (what dist receives), not its bridge MAC (README)
        assert r.attachment.switch_id == seen_by_dist != lab.switch("sw1")["base_mac"], d["name"]
    pump = recs[lab.device("pump")["mac"]]
    assert pump.attachment.confidence >= 0.9 and pump.attachment.port != "ge24"
    assert pump.classification.device_class == "infusion_pump" and pump.vendor == "Baxter International Inc"
    assert recs[lab.device("monitor")["mac"]].classification.device_class == "patient_monitor"
    assert recs[lab.device("workstation")["mac"]].classification.device_class == "workstation"
    assert "flat_network" in {f.name for f in pump.risk.factors}
    # the phone is on ge4 with the PC behind it; its LLDP did not make ge4 an uplink
    phone, pc = recs[lab.device("phone")["mac"]], recs[lab.device("pc")["mac"]]
    assert phone.classification.device_class == "ip_phone"
    assert pc.attachment.port == "ge4" and "behind the IP phone" in " ".join(pc.attachment.evidence)
    # no device on the uplink, and the switches themselves are not devices
    assert all(r.attachment is None or r.attachment.port not in ("ge24",) for r in recs.values())
    assert all(r.attachment is None or r.attachment.switch != "dist" for r in recs.values())


def test_moving_a_device_gives_exactly_one_moved_event(lab: labkit.Lab, correlator: tuple[Correlator, Path]) -> None:
    c, cfg = correlator
    cycle(c, cfg, "dist", "sw1")
    pump = lab.device("pump")
    labkit.replug(lab, "pump", "ge7")
    # snmpd caches IF-MIB for a few seconds while the FDB (pass_persist) is live: wait until the
    # switch names its new port, as a real switch does from the start.
    deadline = time.monotonic() + 60
    while b"ge7" not in lab.walk("sw1", "1.3.6.1.2.1.31.1.1.1.1").values():
        assert time.monotonic() < deadline, "sw1 never listed ge7 in ifName"
        time.sleep(1)
    moved = []
    for _ in range(3):
        out = cycle(c, cfg, "sw1", "dist")
        # Re-plugging makes the pump re-announce itself; when the router's ND table picks up
        # an address it had not listed yet, that is an ip_changed of its own, not a move.
        moved += [e for e in out.events if e.mac == pump["mac"] and e.event != "ip_changed"]
    assert [e.event for e in moved] == ["moved"]
    assert moved[0].previous_attachment.port == "ge1" and moved[0].attachment.port == "ge7"


def test_silent_device_disappears_once(lab: labkit.Lab, correlator: tuple[Correlator, Path]) -> None:
    c, cfg = correlator
    cycle(c, cfg, "dist", "sw1")
    mon = lab.device("monitor")
    labkit.silence(lab, "monitor")
    gone = []
    for _ in range(3):
        out = cycle(c, cfg, "sw1")
        gone += [e for e in out.events if e.mac == mon["mac"]]
    assert [e.event for e in gone] == ["disappeared"]
    assert gone[0].attachment.port == mon["port"]
