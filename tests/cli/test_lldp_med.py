"""LLDP-MED class and inventory from ``lldpcli -f json0 show neighbors details`` (Linux switches).

The document below has the shape lldpd 1.0.16 prints (every value a list of objects with a
"value" key; "lldp-med" under the interface, next to "chassis" and "port"), as captured from
a class III endpoint configured with ``configure inventory ...``.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from collectors.cli.parse import linux_lldp_med, parse

CMD = "lldpcli -f json0 show neighbors details"


def v(value: Any) -> list[dict[str, Any]]:
    return [{"value": value}]


PHONE_MED = {
    "device-type": v("Communication Device Endpoint (Class III)"),
    "capability": [{"type": t, "available": True}
                   for t in ("Capabilities", "Policy", "Location", "MDI/PSE", "MDI/PD", "Inventory")],
    "inventory": [{"hardware": v("V01"), "software": v("sip8845.14-1-1"), "firmware": v("boot 1.2"),
                   "serial": v("FCH1234ABCD"), "manufacturer": v("Cisco Systems, Inc."), "model": v("CP-8845"),
                   "asset": v("LAB-PHONE-4")}],
}


def neighbour(port: str, chassis: str, name: str, med: Any = None) -> dict[str, Any]:
    itf: dict[str, Any] = {
        "name": port, "via": "LLDP", "rid": "1",
        "chassis": [{"id": [{"type": "mac", "value": chassis}], "name": v(name), "descr": v(f"{name} description"),
                     "capability": [{"type": "Bridge", "enabled": True}, {"type": "Tel", "enabled": True}]}],
        "port": [{"id": [{"type": "ifname", "value": "eth0"}], "descr": v("eth0"), "ttl": v("20")}],
    }
    if med is not None:
        itf["lldp-med"] = [med]
    return itf


def doc(*interfaces: dict[str, Any]) -> str:
    return json.dumps({"lldp": [{"interface": list(interfaces)}]})


def test_lldpcli_med_inventory_maps_to_the_neighbour() -> None:
    t = parse("linux", CMD, doc(neighbour("ge4", "00:1e:7a:12:10:24", "SEP001E7A121024", PHONE_MED),
                                neighbour("ge24", "94:18:82:00:00:01", "dist")), switch="sw1")
    phone, dist = t.lldp or []
    assert (phone.sys_name, phone.med_class, phone.med_manufacturer, phone.med_model) == (
        "SEP001E7A121024", "endpoint-3", "Cisco Systems, Inc.", "CP-8845")
    assert (phone.med_hardware, phone.med_firmware, phone.med_software, phone.med_serial, phone.med_asset) == (
        "V01", "boot 1.2", "sip8845.14-1-1", "FCH1234ABCD", "LAB-PHONE-4")
    assert "telephone" in phone.capabilities
    assert dist.med_class is None and dist.med_manufacturer == dist.med_model == ""


def test_lldpcli_med_class_names_and_partial_inventory() -> None:
    for text, cls in (("Generic Endpoint (Class I)", "endpoint-1"), ("Media Endpoint (Class II)", "endpoint-2"),
                      ("Network Connectivity Device", "network"), ("something new", None)):
        got = linux_lldp_med({"lldp-med": [{"device-type": v(text), "inventory": [{"model": v(" Alaris  8015 ")}]}]})
        assert got.get("med_class") == cls and got["med_model"] == "Alaris 8015"
    assert linux_lldp_med({}) == {} and linux_lldp_med({"lldp-med": ["junk"]}) == {}


junk = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=400),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(
                        st.sampled_from(["value", "inventory", "device-type", "model", "manufacturer", "serial"]),
                        c, max_size=4), max_leaves=20)


@given(junk)
def test_lldpcli_med_junk_never_crashes(med: Any) -> None:
    got = linux_lldp_med({"lldp-med": med})
    assert all(isinstance(s, str) and len(s) <= 255 and s.isprintable() for s in got.values())
    t = parse("linux", CMD, doc(neighbour("ge4", "00:1e:7a:12:10:24", "p", med)), switch="sw1")
    assert len(t.lldp or []) == 1
