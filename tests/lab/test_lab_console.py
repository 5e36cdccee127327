"""The operator's console against the lab (issue 17): a wrong CLI platform and a wrong SNMPv3 key.

sw1 is a Linux box with OpenSSH; configured as ``cisco_ios`` its shell answers every IOS
command with "command not found". The sensor must say so instead of reporting a switch
named after the shell prompt with empty tables. With a wrong SNMPv3 auth key, the CLI
fallback answers, and ``poll`` says the poll is degraded (exit 3) with the SNMP failure in
``--json`` errors and on stderr. Run the lab under ``flock /tmp/edge-lab.lock``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import labkit

SENSOR = [sys.executable, "-m", "sensor.cli"]


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    with labkit.running_lab() as lab:
        yield lab


def sensor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", labkit.MGMT_NS, *SENSOR, *args], capture_output=True, text=True,
                          timeout=180, cwd=str(labkit.REPO), env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                                   "COLUMNS": "80"})


def test_linux_switch_configured_as_cisco_ios_is_recognised(lab: labkit.Lab, tmp_path: Path) -> None:
    text = (labkit.STATE / "sensor.toml").read_text()
    text, n = re.subn(r'(name = "sw1"\nhost = "[^"]+"\n)methods = \[[^\]]*\]', r'\1methods = ["cli"]', text)
    assert n == 1
    text = text.replace('platform = "linux"', 'platform = "cisco_ios"')
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(text)
    r = sensor("poll", "-c", str(cfg), "sw1")
    assert r.returncode == 1, r.stdout
    assert "this looks like a Linux shell, not Cisco IOS" in r.stderr and "platform to linux" in r.stderr
    assert "State Error" not in r.stderr and "\x1b" not in r.stderr and r.stdout == ""


def test_wrong_snmpv3_key_with_cli_fallback_is_degraded(lab: labkit.Lab, tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    bad = tmp_path / "auth"
    bad.write_text("not-the-key-at-all\n")
    bad.chmod(0o600)
    text = (labkit.STATE / "sensor.toml").read_text()
    text = re.sub(r'auth_key_file = "[^"]+"', f'auth_key_file = "{bad}"', text, count=1)
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(text.replace(str(labkit.STATE / "state"), str(tmp_path / "state")))
    r = sensor("poll", "-c", str(cfg), "sw1", "--json")
    assert r.returncode == 3, r.stderr
    doc = json.loads(r.stdout)
    assert any(e.startswith("snmp: ") and "auth_key_file" in e for e in doc["errors"]), doc["errors"]
    assert "sensor poll: sw1: snmp failed:" in r.stderr
    r = sensor("run", "-c", str(cfg), "--once", "--log-format", "json")
    assert r.returncode == 3, r.stderr
    polls = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{") and '"poll sw1' in x]
    assert polls and polls[0]["level"] == "warning" and "snmp" in polls[0]["failed"]
    assert "sensor run: worked, but degraded: sw1: snmp failed" in r.stderr
