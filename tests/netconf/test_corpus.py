"""Every case of ../shared/corpus/netconf maps, through `sensor parse`, to NAPALM's expected result.

IOS-XR NETCONF replies (platform "iosxr") and Nokia SR OS replies (platform "sros", whose MAC
table is `show service fdb-mac` text). Junos RPC replies are covered by tests/cli/test_corpus.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.corpus import NETCONF, mac, port_name, sensor_parse
from tests.cli.test_corpus import check_napalm

pytestmark = pytest.mark.skipif(not NETCONF.is_dir(), reason=f"NETCONF corpus not found at {NETCONF} (../shared absent)")

DRIVERS = {"napalm-iosxr_netconf": "iosxr", "napalm-community-sros": "sros"}
CASES = sorted(NETCONF.glob("*/*/*/expected_result.json")) if NETCONF.is_dir() else []
COMMAND = {"get_mac_address_table": "mac table", "get_arp_table": "arp", "get_arp_table_with_vrf": "arp",
           "get_lldp_neighbors": "lldp neighbors", "get_lldp_neighbors_detail": "lldp neighbors detail",
           "get_interfaces": "interfaces"}


def _reply(case: Path) -> Path:
    files = [p for p in case.iterdir() if p.suffix == ".xml" or p.name == "_show_service_fdb-mac.txt"]
    assert len(files) == 1, files
    return files[0]


@pytest.mark.parametrize("expected_file", CASES, ids=lambda p: "/".join(p.parts[-4:-1]))
def test_netconf_case(expected_file: Path) -> None:
    case = expected_file.parent
    driver, getter = case.parent.parent.name, case.parent.name
    platform = DRIVERS[driver]
    doc = sensor_parse(platform, COMMAND[getter], _reply(case))
    expected: Any = json.loads(expected_file.read_text())
    if platform == "sros" and getter == "get_mac_address_table":
        # NAPALM-SROS reports every entry with vlan -1 and the raw source; ports are SAPs.
        got = {f["mac"]: f for f in doc["fdb"]}
        for e in expected:
            f = got[mac(e["mac"])]
            if e["interface"].startswith("sap:"):
                assert port_name(doc, f["ifindex"]) == e["interface"][4:].rsplit(":", 1)[0]
            else:
                assert f["ifindex"] is None and f["status"] == "self"
        return
    check_napalm(getter.replace("_with_vrf", ""), "iosxr" if platform == "iosxr" else "sros", expected, doc)
