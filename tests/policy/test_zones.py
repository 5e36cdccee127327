"""Zones by clinical function: defaults, overrides by precedence, and the older [policy] keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sensor.config import parse_config
from sensor.correlate.engine import settings_from
from sensor.policy.zones import Zoning

REPO = Path(__file__).resolve().parents[2]
HEAD = '[sensor]\nsite = "s"\nstate_dir = "/tmp/x"\n'


def zoning(extra: str = "", served: dict[str, str] | None = None) -> Zoning:
    cfg = parse_config(HEAD + extra, check_files=False)
    return Zoning.from_config(cfg.policy, ["10.0.0.0/8"], served)


def test_defaults_follow_the_classification() -> None:
    z = zoning()
    assert z.place(ip="10.1.0.5", mac="00:00:00:00:00:01", device_class="infusion_pump", medical=True).zone \
        == "medication_delivery"
    assert z.place(ip="10.1.0.6", mac="00:00:00:00:00:02", device_class="patient_monitor", medical=True).zone \
        == "patient_monitoring"
    assert z.place(ip="10.1.0.7", mac="00:00:00:00:00:03", device_class="unknown", medical=True).zone \
        == "other_medical"
    assert z.place(ip="10.1.0.8", mac="00:00:00:00:00:04", device_class="printer").zone == "general_it"
    assert z.place(ip="10.1.0.9", mac="00:00:00:00:00:05", device_class="workstation").zone \
        == "clinical_workstations"
    assert z.place(ip="8.8.8.8").zone == "external"
    assert z.place(ip="10.9.9.9").zone == "general_it"
    assert z.workstation_classes == {"workstation"}
    assert "medication_delivery" in z.protected and "general_it" not in z.protected


def test_overrides_most_specific_first() -> None:
    z = zoning('''
[[policy.zone]]
name = "clinical_servers"
subnets = ["10.2.0.0/24"]
hosts = ["10.3.0.9"]
[[policy.zone]]
name = "oncology_pumps"
protected = true
classes = ["infusion_pump"]
macs = ["00:11:22:33:44:55"]
ports = ["idf2:Gi1/0/5"]
subnets = ["10.2.0.128/25"]
''', served={"10.4.0.1": "serves HL7 MLLP to 2 medical devices"})
    # class moved out of its default zone
    assert z.place(ip="10.1.0.5", mac="00:00:00:00:00:01", device_class="infusion_pump", medical=True).zone \
        == "oncology_pumps"
    assert "infusion_pump" not in z.by_name["medication_delivery"].classes
    # MAC beats host, port beats subnet, longest prefix wins
    assert z.place(ip="10.3.0.9", mac="00-11-22-33-44-55", device_class="workstation").zone == "oncology_pumps"
    assert z.place(ip="10.2.0.7", switch="idf2", port="Gi1/0/5", device_class="workstation").zone \
        == "oncology_pumps"
    assert z.place(ip="10.2.0.7", device_class="workstation").zone == "clinical_servers"
    assert z.place(ip="10.2.0.200", device_class="workstation").zone == "oncology_pumps"
    # flows show a server: beats the class, but never turns a medical device into a server
    p = z.place(ip="10.4.0.1", mac="00:00:00:00:00:09", device_class="workstation")
    assert p.zone == "clinical_servers" and "HL7" in p.reason
    assert z.place(ip="10.4.0.1", device_class="patient_monitor", medical=True).zone == "patient_monitoring"


def test_older_keys_keep_working_and_feed_the_flat_network_finding() -> None:
    cfg = parse_config(HEAD + '[policy]\nworkstation_classes = ["workstation", "printer"]\n'
                       'expected_vlans = { infusion_pump = [30, 31] }\n', check_files=False)
    pol = settings_from(cfg).policy
    assert pol.workstation_classes == {"workstation", "printer"}
    assert pol.vlans_for("infusion_pump") == {30, 31}
    cfg = parse_config(HEAD + '[[policy.zone]]\nname = "medication_delivery"\nvlans = [30]\n'
                       '[[policy.zone]]\nname = "clinical_workstations"\nclasses = ["printer"]\n', check_files=False)
    pol = settings_from(cfg).policy
    assert pol.workstation_classes == {"workstation", "printer"}
    assert pol.vlans_for("infusion_pump") == {30}
    assert pol.vlans_for("patient_monitor") is None


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sensor.cli", *args], cwd=REPO, capture_output=True, text=True)


def test_check_config_says_how_to_move_the_older_keys(tmp_path: Path) -> None:
    f = tmp_path / "sensor.toml"
    f.write_text(HEAD + '\n[policy]\nworkstation_classes = ["workstation"]\nexpected_vlans = { infusion_pump = [30] }\n')
    r = run("check-config", str(f))
    assert r.returncode == 0, r.stderr
    assert f"note: {f}:6: policy.workstation_classes still works" in r.stdout
    assert f'{f}:7: policy.expected_vlans.infusion_pump still works' in r.stdout
    assert 'name = "medication_delivery"\n    vlans = [30]' in r.stdout
    assert "Traceback" not in r.stderr


def test_check_config_names_bad_zone_keys(tmp_path: Path) -> None:
    f = tmp_path / "sensor.toml"
    f.write_text(HEAD + '\n[[policy.zone]]\nname = "servers"\nsubnets = ["10.2.0.0/33"]\nports = ["Gi1/0/5"]\n'
                 'colour = "red"\n')
    r = run("check-config", str(f))
    assert r.returncode == 2
    assert f"{f}:9: policy.zone[1].colour: unknown key" in r.stderr
    f.write_text(HEAD + '\n[[policy.zone]]\nname = "servers"\nsubnets = ["10.2.0.0/33"]\nports = ["Gi1/0/5"]\n')
    r = run("check-config", str(f))
    assert r.returncode == 2, r.stdout
    assert f'{f}:7: policy.zone[1].subnets[1]: expected a prefix like "10.20.30.0/24", got "10.2.0.0/33"' in r.stderr
    assert f'{f}:8: policy.zone[1].ports[1]: expected "switch:port"' in r.stderr
    assert "Traceback" not in r.stderr
