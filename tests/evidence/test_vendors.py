"""The vendor alias table: drifting names meet, look-alikes do not."""

from __future__ import annotations

import pytest

from sensor.evidence.vendors import normalise, vendor_keys


@pytest.mark.parametrize(("a", "b"), [
    ("Philips", "Phillips"),  # the typo in ICSMA-18-025-01 and ICSMA-18-058-02
    ("Philips", "Philips Patient Monitoring"),  # IEEE registry
    ("Philips", "Koninklijke Philips N.V."),
    ("GE Healthcare", "General Electric (GE)"),
    ("GE Healthcare", "GE Medical System China Co. Ltd."),
    ("B. Braun", "B. Braun Melsungen AG"),
    ("B. Braun", "B. Braun Medical"),
    ("Becton, Dickinson and Company (BD)", "BD"),
    ("Becton, Dickinson and Company (BD)", "CareFusion"),
    ("Becton, Dickinson and Company (BD)", "Becton Dickinson"),
    ("Baxter", "Baxter International Inc"),
    ("Smiths Medical", "ICU Medical, Inc."),
    ("Smiths Medical", "Hospira, Inc."),
    ("Medtronic", "Medtronic Diabetes"),
    ("Siemens", "Siemens Healthineers"),
    ("Dräger", "Draegerwerk AG & Co. KGaA"),
    ("St. Jude Medical", "Abbott"),
    ("Hillrom", "Welch Allyn, Inc."),
])
def test_aliases_meet(a: str, b: str) -> None:
    assert vendor_keys(a) & vendor_keys(b), (vendor_keys(a), vendor_keys(b))


@pytest.mark.parametrize(("a", "b"), [
    ("Philips", "Phillips Machine & Welding Co., Inc."),  # in the IEEE registry, not a Philips company
    ("Becton, Dickinson and Company (BD)", "Talaris Systems, Inc."),
    ("GE Healthcare", "Gemtek Technology"),
    ("Baxter", "Medtronic"),
    ("Smiths Medical", "Smiths Detection"),
])
def test_look_alikes_do_not(a: str, b: str) -> None:
    assert not (vendor_keys(a) & vendor_keys(b))


def test_several_vendors_in_one_name() -> None:
    assert {"hillrom", "baxter"} <= vendor_keys("Hillrom and ELI, Baxter International Inc.")
    assert "ge healthcare" in vendor_keys("Silex Technology and GE Healthcare")


def test_unknown_vendor_is_its_own_key() -> None:
    assert vendor_keys("Mindray") == vendor_keys("MINDRAY") or vendor_keys("Mindray") & vendor_keys("mindray")
    assert vendor_keys("Acme Medical Devices, Inc.") == {normalise("Acme Medical Devices, Inc.")}
