"""The appliance's first-boot step (image/overlay/usr/lib/edge-sensor/firstboot), on a fake root."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "image" / "overlay" / "usr" / "lib" / "edge-sensor" / "firstboot"
EXAMPLE = REPO / "image" / "sensor.toml"
MACHINE_ID = "0123456789abcdef0123456789abcdef"


def run(root: Path) -> str:
    r = subprocess.run([sys.executable, str(SCRIPT)], env={**os.environ, "EDGE_SENSOR_ROOT": str(root)},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/edge-sensor/credentials").mkdir(parents=True)
    (root / "etc/machine-id").write_text(MACHINE_ID + "\n")
    (root / "etc/edge-sensor/sensor.toml").write_text(EXAMPLE.read_text())
    return root


def test_sets_id_from_machine_id_and_hostname_once(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    out = run(root)
    cfg = tomllib.loads((root / "etc/edge-sensor/sensor.toml").read_text())
    assert cfg["sensor"]["id"] == "sensor-01234567"
    assert cfg["sensor"]["site"] == "unconfigured"
    assert (root / "etc/hostname").read_text() == "sensor-01234567\n"
    assert "127.0.1.1\tsensor-01234567" in (root / "etc/hosts").read_text()
    assert "sensor id set" in out
    # Idempotent: a second boot changes nothing.
    before = (root / "etc/edge-sensor/sensor.toml").read_text()
    assert run(root) == ""
    assert (root / "etc/edge-sensor/sensor.toml").read_text() == before


def test_configured_id_and_hostname_are_kept(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "etc/edge-sensor/sensor.toml").write_text('[sensor]\nid = "closet-2b"\nsite = "x"\n')
    (root / "etc/hostname").write_text("myhost\n")
    run(root)
    assert tomllib.loads((root / "etc/edge-sensor/sensor.toml").read_text())["sensor"]["id"] == "closet-2b"
    assert (root / "etc/hostname").read_text() == "myhost\n"


def test_seed_on_boot_partition_is_imported_and_deleted(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    seed = root / "boot/efi/edge-sensor"
    (seed / "credentials").mkdir(parents=True)
    (seed / "sensor.toml").write_text('[sensor]\nsite = "st-main"\n\n[mqtt]\nhost = "hub"\n')
    (seed / "credentials/mqtt-password").write_text("s3cret\n")
    (seed / "hub-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (seed / "authorized_keys").write_text("ssh-ed25519 AAAA admin@laptop")
    out = run(root)
    etc = root / "etc/edge-sensor"
    cfg = tomllib.loads((etc / "sensor.toml").read_text())
    assert cfg["sensor"] == {"id": "sensor-01234567", "site": "st-main"}
    assert cfg["mqtt"]["host"] == "hub"
    assert (etc / "credentials/mqtt-password").read_text() == "s3cret\n"
    assert (etc / "credentials/mqtt-password").stat().st_mode & 0o777 == 0o600
    assert (etc / "hub-ca.pem").stat().st_mode & 0o777 == 0o644
    assert (etc / "sensor.toml.before-seed").exists()
    keys = root / "home/admin/.ssh/authorized_keys"
    assert keys.read_text() == "ssh-ed25519 AAAA admin@laptop\n"
    assert keys.stat().st_mode & 0o777 == 0o600
    left = sorted(p.name for p in seed.rglob("*"))
    assert left == ["IMPORTED.txt"], left
    assert "credentials/mqtt-password" in (seed / "IMPORTED.txt").read_text()
    assert "imported" in out


def test_invalid_toml_is_left_alone(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "etc/edge-sensor/sensor.toml").write_text("[sensor\nsite = \n")
    out = run(root)
    assert "not valid TOML" in out
    assert (root / "etc/edge-sensor/sensor.toml").read_text() == "[sensor\nsite = \n"
