"""The README's annotated example configuration is valid (docs that drift are worse than none)."""

from __future__ import annotations

import re

from sensor.config import parse_config
from tests.conftest import REPO


def test_readme_example_config_is_valid() -> None:
    text = (REPO / "README.md").read_text()
    m = re.search(r"<!-- example-config -->\s*```toml\n(.*?)```", text, re.S)
    assert m, "README lost its example configuration"
    # Secret files do not exist here; everything else is checked as `sensor check-config` would.
    cfg = parse_config(m.group(1), "README.md", check_files=False)
    assert [s.name for s in cfg.switch] == ["idf2-access-1", "idf3-core", "idf2-access-2"]
    assert cfg.switch[0].snmp is not None and cfg.switch[0].snmp.user == "sensor"  # from the profile
    assert cfg.switch[0].cli is not None and cfg.switch[1].netconf is not None
    assert cfg.flows is not None and cfg.mqtt is not None and cfg.mqtt.tls
    assert cfg.classification.override[0].device_class == "patient_monitor"
