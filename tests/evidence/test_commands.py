"""``sensor register`` and ``sensor advisories`` as a user runs them: exit codes, stdout, stderr, no traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED

ADVISORIES = SHARED / "corpus" / "advisories"
REGISTER = Path(__file__).parent / "data" / "advisory_register.csv"
needs_corpus = pytest.mark.skipif(not ADVISORIES.is_dir(),
                                  reason=f"advisory corpus not found at {ADVISORIES} (../shared absent)")


def sensor(*args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "sensor.cli", *args], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def test_register_check_good_file() -> None:
    p = sensor("register", "check", str(REGISTER))
    assert p.returncode == 0, p.stderr
    assert "30 rows usable, 0 rejected" in p.stdout and p.stderr == ""


def test_register_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "reg.csv"
    f.write_text("Asset Tag,MAC Address,IP Address,High Risk\nA1,00:09:fb:00:00:01,10.0.0.1,yes\n"
                 "A2,nope,10.0.0.999,maybe\nA1,,,\n", encoding="utf-8")
    p = sensor("register", "check", str(f))
    assert p.returncode == 2
    assert p.stderr.splitlines() == [
        f'{f}:3:4: mac: expected a MAC address like 00:1a:2b:3c:4d:5e, got "nope"',
        f'{f}:3:9: ip: expected an IPv4 or IPv6 address, got "10.0.0.999"',
        f'{f}:3:20: high_risk: expected yes or no (also y/n, true/false, 1/0), got "maybe"',
        f'{f}:4:1: asset tag "A1" is already on line 2',
    ]
    assert "1 rows usable, 2 rejected" in p.stdout


def test_register_check_column_mapping_from_config_and_flags(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text("Inv-Nr,Netz-MAC\nK1,00:09:fb:00:00:01\n", encoding="utf-8")
    assert sensor("register", "check", str(f)).returncode == 2  # no asset tag column known
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nsite = "lab"\n[register]\nfile = "{f}"\n'
                   '[register.columns]\nasset_tag = "Inv-Nr"\nmac = "Netz-MAC"\n', encoding="utf-8")
    p = sensor("register", "check", str(f), "--config", str(cfg))
    assert p.returncode == 0 and 'asset_tag       <- "Inv-Nr"' in p.stdout, p.stdout + p.stderr
    p = sensor("register", "check", str(f), "--column", "asset_tag=Inv-Nr", "--column", "mac=Netz-MAC")
    assert p.returncode == 0
    p = sensor("register", "check", str(f), "--column", "colour=Inv-Nr")
    assert p.returncode == 2 and "FIELD=HEADER" in p.stderr


def test_register_check_missing_or_binary_file(tmp_path: Path) -> None:
    p = sensor("register", "check", str(tmp_path / "nope.csv"))
    assert p.returncode == 2 and "no such file" in p.stderr
    b = tmp_path / "bin.csv"
    b.write_bytes(b"\x00\xff\xfe garbage \x00\n\x01,\x02")
    p = sensor("register", "check", str(b))
    assert p.returncode == 2 and str(b) in p.stderr


def test_register_reconcile_without_section(tmp_path: Path) -> None:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nsite = "lab"\nstate_dir = "{tmp_path}"\n', encoding="utf-8")
    p = sensor("register", "reconcile", "--config", str(cfg))
    assert p.returncode == 2 and "no [register] section" in p.stderr


def test_register_reconcile_on_an_empty_store(tmp_path: Path) -> None:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nsite = "lab"\nstate_dir = "{tmp_path}"\n[register]\nfile = "{REGISTER}"\n',
                   encoding="utf-8")
    p = sensor("register", "reconcile", "--config", str(cfg), "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["rows"] == 30 and data["matched"] == 0 and data["unseen"] == 30


@needs_corpus
def test_advisories_check_reads_the_corpus() -> None:
    p = sensor("advisories", "check", str(ADVISORIES))
    assert p.returncode == 0, p.stderr
    assert "124 advisories read" in p.stdout and "0 unreadable" in p.stdout
    p = sensor("advisories", "check", str(ADVISORIES), "--json")
    data = json.loads(p.stdout)
    assert data["read"] == 124 and data["unreadable"] == []
    print(f"\nsensor advisories check: 124 documents in {data['seconds']} s")


def test_advisories_check_names_each_unreadable_document(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "csaf1.json").write_text(json.dumps({"document": {"category": "csaf_security_advisory",
                                                                  "csaf_version": "1.0", "title": "t"}}))
    (tmp_path / "empty.json").write_text(json.dumps({"document": {
        "category": "csaf_security_advisory", "csaf_version": "2.0", "title": "t",
        "tracking": {"id": "X-1", "current_release_date": "2020-01-01"}}}))
    p = sensor("advisories", "check", str(tmp_path))
    assert p.returncode == 2  # nothing usable
    lines = sorted(p.stderr.splitlines())
    assert lines[0].startswith(f"{tmp_path}/broken.json: not valid JSON")
    assert lines[1].startswith(f"{tmp_path}/csaf1.json: not a CSAF 2.0 document") and "csaf_version" in lines[1]
    assert lines[2] == f"{tmp_path}/empty.json: no products in its product tree: nothing to match a device against"
    if ADVISORIES.is_dir():
        shutil.copy(ADVISORIES / "icsma" / "icsma-20-170-04.json", tmp_path)
        p = sensor("advisories", "check", str(tmp_path))
        assert p.returncode == 1 and "1 advisories read" in p.stdout and "3 unreadable" in p.stdout


def test_advisories_check_not_a_directory(tmp_path: Path) -> None:
    p = sensor("advisories", "check", str(tmp_path / "nope"))
    assert p.returncode == 2 and "not a directory" in p.stderr
    p = sensor("advisories", "check", str(tmp_path))
    assert p.returncode == 2 and "no *.json files" in p.stderr


@needs_corpus
def test_advisories_match_prints_basis_cves_and_remediation() -> None:
    p = sensor("advisories", "match", str(ADVISORIES), "--register", str(REGISTER), "--json")
    assert p.returncode == 0, p.stderr
    rows = {r["asset_tag"]: r for r in map(json.loads, p.stdout.splitlines())}
    t16 = rows["T16"]["matches"]
    assert [m["advisory"] for m in t16] == ["ICSMA-21-152-01"]
    assert t16[0]["confidence"] == "vendor+product+version"
    assert any('"1.40" is in "< 1.52"' in b for b in t16[0]["basis"])
    assert all(c["cvss"] for c in t16[0]["cves"]) and t16[0]["remediations"]
    text = sensor("advisories", "match", str(ADVISORIES), "--register", str(REGISTER)).stdout
    assert "T16: Welch Allyn Connex Spot Monitor 1.40: 1" in text and "remediation: vendor_fix" in text
