"""LLDP-MED inventory end to end in the lab: the phone in es-phone runs lldpd with ``-M 3``
and an inventory (lab/up: ``configure inventory ...``); sw1's lldpd receives it and serves it
through AgentX in LLDP-EXT-MED-MIB (lldpXMedRemInventoryTable, lldpXMedRemCapabilitiesTable).

``sensor poll --json`` for sw1, run in es-mgmt, shows the phone's manufacturer and model on ge4
over SNMP and over the CLI (``lldpcli -f json0``); through the correlator the phone's record
carries them and its classification names them.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.facts import Snapshot
from sensor.config import load_config
from sensor.correlate.engine import Correlator
from tests.lab import labkit

SENSOR = [sys.executable, "-m", "sensor.cli"]
LLDP_EXT_MED_REMOTE = "1.0.8802.1.1.2.1.5.4795.1.3"
# What lab/up configures on the phone's lldpd.
MED = {"med_class": "endpoint-3", "med_manufacturer": "Cisco Systems, Inc.", "med_model": "CP-8845",
       "med_hardware": "V01", "med_firmware": "boot 8845-1.2", "med_software": "sip8845.14-1-1",
       "med_serial": "FCH2151LAB4", "med_asset": "LAB-PHONE-GE4"}


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    with labkit.running_lab() as lab:
        yield lab


def config(tmp_path: Path, methods: str) -> Path:
    """The lab's sensor.toml with sw1 narrowed to ``methods``."""
    text = (labkit.STATE / "sensor.toml").read_text()
    text, n = re.subn(r'(name = "sw1"\nhost = "[^"]+"\n)methods = \[[^\]]*\]', rf"\1methods = {methods}", text)
    assert n == 1
    cfg = tmp_path / f"sensor-{re.sub(r'[^a-z]', '', methods)}.toml"
    cfg.write_text(text)
    tmp_path.chmod(0o700)
    return cfg


def poll(cfg: Path, switch: str = "sw1") -> dict[str, Any]:
    res = labkit.run_in_ns(labkit.MGMT_NS, [*SENSOR, "poll", "--config", str(cfg), switch, "--json"], timeout=180)
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def phone_on_ge4(doc: dict[str, Any], lab: labkit.Lab) -> dict[str, Any]:
    names = {i["ifindex"]: i["name"] for i in doc["interfaces"]}
    phone = lab.device("phone")
    hits = [n for n in doc["lldp"] if names.get(n["ifindex"]) == phone["port"]]
    assert len(hits) == 1, doc["lldp"]
    return hits[0]


def test_sw1_agent_serves_the_med_tables(lab: labkit.Lab) -> None:
    rows = lab.walk("sw1", LLDP_EXT_MED_REMOTE, auth=lab.v3_args())
    values = set(rows.values())
    assert b"Cisco Systems, Inc." in values and b"CP-8845" in values, rows


@pytest.mark.parametrize("methods", ['["snmp"]', '["cli"]'])
def test_sensor_poll_shows_the_phone_med_inventory_on_ge4(lab: labkit.Lab, tmp_path: Path, methods: str) -> None:
    doc = poll(config(tmp_path, methods))
    assert doc["methods"]["lldp"] == json.loads(methods)[0]
    n = phone_on_ge4(doc, lab)
    assert n["sys_name"] == "SEP001E7A121024"
    assert "telephone" in n["capabilities"]
    assert {k: n[k] for k in MED} == MED
    # the uplink neighbour (dist, no LLDP-MED) carries none
    dist = next(x for x in doc["lldp"] if x["sys_name"] == "dist")
    assert dist["med_class"] is None and dist["med_manufacturer"] == dist["med_model"] == ""


def snapshot(doc: dict[str, Any], switch: str) -> Snapshot:
    return labkit.snapshot_from_poll(doc, switch)  # type: ignore[no-any-return]


def test_phone_record_carries_manufacturer_and_model(lab: labkit.Lab, tmp_path: Path) -> None:
    cfg = config(tmp_path, '["snmp"]')
    lab.traffic()
    c = Correlator.from_config(load_config(cfg))
    out = c.ingest([snapshot(poll(cfg, "dist"), "dist"), snapshot(poll(cfg, "sw1"), "sw1")], now=time.time())
    phone = lab.device("phone")
    rec = out.records[phone["mac"]]
    assert rec.attachment is not None and rec.attachment.port == phone["port"]
    assert rec.neighbour is not None
    assert (rec.neighbour.med_class, rec.neighbour.manufacturer, rec.neighbour.model) == (
        "endpoint-3", "Cisco Systems, Inc.", "CP-8845")
    assert rec.classification.device_class == "ip_phone"
    assert any(r.startswith('LLDP-MED model "CP-8845"') for r in rec.classification.reasons), rec.classification
    # the PC behind the phone stays on ge4 and does not inherit the phone's inventory
    pc = out.records[lab.device("pc")["mac"]]
    assert pc.neighbour is None and pc.attachment is not None and pc.attachment.port == phone["port"]
