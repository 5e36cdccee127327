"""``sensor lookup MAC... [--json]`` run as a user runs it: a subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO


def sensor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sensor.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def lookup_json(*macs: str) -> list[dict[str, Any]]:
    r = sensor("lookup", "--json", *macs)
    assert r.returncode == 0, r.stderr
    docs: list[dict[str, Any]] = json.loads(r.stdout)
    return docs


def test_several_macs_as_text() -> None:
    r = sensor("lookup", "58:42:e4:12:10:21", "00-23-6D-00-00-01", "0080.a300.0001")
    assert r.returncode == 0 and r.stderr == ""
    parts = r.stdout.strip().split("\n\n")
    assert [p.splitlines()[0] for p in parts] == ["58:42:e4:12:10:21", "00:23:6d:00:00:01", "00:80:a3:00:00:01"]
    pump, resmed, lantronix = parts
    assert "block         58:42:e4 (MA-L)" in pump and "organisation  Baxter International Inc" in pump
    assert "class         infusion_pump (Infusion pump)" in pump and "medical       yes, criticality 5/5" in pump
    assert "reasons       vendor Baxter International Inc: infusion-pump maker" in pump
    assert "organisation  ResMed Ltd" in resmed and "class         ventilator (" in resmed
    assert "medical       yes, criticality 5/5" in resmed
    assert "note          network module by Lantronix" in lantronix and "medical       no" in lantronix
    assert "the device's own maker is not known" in lantronix


def test_json_blocks_of_every_size_and_flags() -> None:
    docs = lookup_json("70:b3:d5:36:a0:01", "70-B3-D5-CF-90-01", "00:55:da:10:00:01", "02:00:00:00:00:01",
                       "0080a3000001")
    assert [d["mac"] for d in docs] == ["70:b3:d5:36:a0:01", "70:b3:d5:cf:90:01", "00:55:da:10:00:01",
                                        "02:00:00:00:00:01", "00:80:a3:00:00:01"]
    bd, breas, mam, local, module = docs
    assert (bd["block"], bd["block_type"], bd["organisation"]) == ("70:b3:d5:36:a0/36", "MA-S", "Becton Dickinson")
    assert (bd["class"], bd["medical"], bd["criticality"]) == ("infusion_pump", True, 5)
    assert (breas["class"], breas["label"], breas["medical"], breas["criticality"]) == (
        "ventilator", "Ventilator / respiratory device", True, 5)
    assert breas["reasons"] == ["vendor Breas Medical AB: ventilator and respiratory-care maker"]
    assert (breas["block"], breas["block_type"], breas["organisation"]) == ("70:b3:d5:cf:90/36", "MA-S",
                                                                            "Breas Medical AB")
    assert (mam["block"], mam["block_type"], mam["organisation"]) == ("00:55:da:10/28", "MA-M", "KoolPOS Inc.")
    assert (mam["class"], mam["medical"], mam["reasons"]) == ("unknown", False, ["no rule matched"])
    assert local["locally_administered"] and local["block"] is None and local["organisation"] is None
    assert "locally administered" in local["note"] and local["class"] == "unknown" and not local["medical"]
    assert module["note"] == "network module by Lantronix" and not module["medical"] and module["class"] == "unknown"


def test_a_bad_mac_is_a_usage_error_and_nothing_is_printed() -> None:
    r = sensor("lookup", "58:42:e4:12:10:21", "58:42:e4:12:10", "not-a-mac")
    assert r.returncode == 2 and r.stdout == ""
    assert "'58:42:e4:12:10' is not a MAC address" in r.stderr and "'not-a-mac' is not a MAC address" in r.stderr
    assert "Traceback" not in r.stderr
    r = sensor("lookup")
    assert r.returncode == 2 and "MAC" in r.stderr and "Traceback" not in r.stderr


def test_config_rules_and_overrides_apply(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[classes.bed]\nlabel = "Smart bed"\nmedical = true\ncriticality = 3\n'
                     '[[vendor]]\nclass = "bed"\nweight = 0.9\norgs = ["Talaris Systems"]\n')
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nid = "closet-2b"\nsite = "st-example"\nstate_dir = "{tmp_path}"\n'
                   '[[switch]]\nname = "sw1"\nhost = "127.0.0.1"\n[switch.snmp]\nversion = "2c"\n'
                   f'community_file = "{tmp_path / "community"}"\n'
                   f'[classification]\nrules_file = "{rules}"\n'
                   '[[classification.override]]\nmac = "f8:bc:12:12:10:23"\nclass = "patient_monitor"\n')
    r = sensor("lookup", "--json", "--config", str(cfg), "00:00:66:00:00:01", "f8:bc:12:12:10:23")
    assert r.returncode == 0, r.stderr
    talaris, ws = json.loads(r.stdout)
    assert (talaris["class"], talaris["medical"], talaris["criticality"]) == ("bed", True, 3)
    assert ws["class"] == "patient_monitor" and ws["reasons"][0] == "configured override for MAC f8:bc:12:12:10:23"
    # without the configuration the shipped rules alone speak
    assert [d["class"] for d in lookup_json("00:00:66:00:00:01", "f8:bc:12:12:10:23")] == ["unknown", "workstation"]
    r = sensor("lookup", "--config", str(tmp_path / "nope.toml"), "00:00:66:00:00:01")
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
