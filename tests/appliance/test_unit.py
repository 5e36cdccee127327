"""The systemd unit: `systemd-analyze verify` is clean and `security` scores 2.0 or lower.

Both run offline against a throw-away root holding the units, this host's system units (for
the targets they refer to) and stand-ins for the executables, so no systemd needs to run here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "edge-sensor.service"
FIRSTBOOT = REPO / "image" / "overlay" / "usr" / "lib" / "systemd" / "system" / "edge-sensor-firstboot.service"
MAX_EXPOSURE = 2.0

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def _exec_paths(unit: Path) -> list[str]:
    paths = []
    for line in unit.read_text().splitlines():
        m = re.match(r"^Exec\w+=[-@:+!]*(/\S+)", line)
        if m:
            paths.append(m.group(1))
    return paths


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    host_units = Path("/usr/lib/systemd/system")
    if host_units.is_dir():
        shutil.copytree(host_units, units, dirs_exist_ok=True, symlinks=True)
    for unit in (UNIT, FIRSTBOOT):
        shutil.copy(unit, units / unit.name)
        for exe in _exec_paths(unit):
            stub = root / exe.lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\nexit 0\n")
            stub.chmod(0o755)
    (root / "etc/edge-sensor/credentials").mkdir(parents=True)
    return root


def test_units_verify_clean(root: Path) -> None:
    r = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "--man=no", UNIT.name, FIRSTBOOT.name],
        capture_output=True, text=True, timeout=60,
    )
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0, out
    assert out == "", f"systemd-analyze verify warns:\n{out}"


def test_unit_has_the_required_settings() -> None:
    text = UNIT.read_text()
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            k, v = line.split("=", 1)
            settings.setdefault(k.strip(), []).append(v.strip())
    for key, value in {
        "Type": "notify", "DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
        "Restart": "on-failure", "StateDirectory": "edge-sensor", "ConfigurationDirectory": "edge-sensor",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    }.items():
        assert value in settings.get(key, []), f"{key}={value} missing"
    assert "@system-service" in settings["SystemCallFilter"]
    for key in ("WatchdogSec", "MemoryMax", "LoadCredential"):
        assert settings.get(key), f"{key}= missing"


def test_security_exposure_at_most_2(root: Path) -> None:
    r = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", "--no-pager", UNIT.name],
        capture_output=True, text=True, timeout=60,
    )
    m = re.search(r"Overall exposure level for edge-sensor\.service: (\d+(?:\.\d+)?)", r.stdout)
    assert m, f"no score in:\n{r.stdout}\n{r.stderr}"
    score = float(m.group(1))
    print(f"systemd-analyze security: {score}")
    assert score <= MAX_EXPOSURE, r.stdout
