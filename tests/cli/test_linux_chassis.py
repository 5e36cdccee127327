"""The Linux platform's own LLDP chassis (``lldpcli -f json0 show chassis``): the switch's identity.

``outputs/linux__lldpcli_json0_show_chassis.json`` is what lldpd 1.0.16 printed on the lab's sw1
(lab/README.md): its chassis id is a port MAC (94:18:82:01:00:01), not br0's bridge address.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.cli.parse import ParseError, command_table, parse

CMD = "lldpcli -f json0 show chassis"
RECORDED = (Path(__file__).parent / "outputs" / "linux__lldpcli_json0_show_chassis.json").read_text()


def test_the_recorded_chassis_names_the_switch() -> None:
    assert command_table(CMD) == "system"
    t = parse("linux", CMD, RECORDED, switch="sw1")
    assert t.system is not None and t.provided() == ("system",)
    assert (t.system.switch, t.system.sys_name, t.system.lldp_chassis_id) == ("sw1", "sw1", "94:18:82:01:00:01")
    assert t.system.sys_descr == "edge-sensor lab access switch sw1" and t.system.base_mac is None


def test_a_chassis_id_that_is_not_a_mac_is_kept_as_sent() -> None:
    doc = json.loads(RECORDED)
    doc["local-chassis"][0]["chassis"][0]["id"] = [{"type": "local", "value": "closet-2b"}]
    t = parse("linux", CMD, json.dumps(doc), switch="sw1")
    assert t.system is not None and t.system.lldp_chassis_id == "closet-2b"


@pytest.mark.parametrize("text", ['{"local-chassis": []}', '{"lldp": []}', "[]"])
def test_no_local_chassis_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse("linux", CMD, text, switch="sw1")
