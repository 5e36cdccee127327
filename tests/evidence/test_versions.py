"""Version texts as CISA's CSAF files write them (each case below is taken from the corpus)."""

from __future__ import annotations

import pytest

from sensor.evidence.versions import compare, contains, looks_like_version, parse_spec


@pytest.mark.parametrize(("spec", "version", "expected"), [
    ("<= 2.3.6", "2.3.5", True),
    ("<= 2.3.6", "2.3.7", False),
    ("<=2.3.5", "2.3.5", True),
    ("< B.06.18", "B.06.12", True),
    ("< B.06.18", "B.06.18", False),
    (">= 4.4 | <= 4.12", "4.10", True),  # vers-style interval: numeric, not lexical (4.10 > 4.4)
    (">= 4.4 | <= 4.12", "4.2", False),
    (">= 1.3.4 | < 1.5.3", "1.6.1", False),
    ("1.1 | 1.2 | 1.4 | 1.5", "1.2", True),
    ("1.1 | 1.2 | 1.4 | 1.5", "1.3", False),
    ("<= 12.2.x.x", "12.2.8.410", True),
    ("<= 12.2.x.x", "12.3", False),
    ("2.X", "2.0", True),
    ("1.X", "2.0", False),
    ("< 3.x", "2.9", True),
    ("2.3.6 and  below", "2.3.6", True),
    ("prior to 4.2", "4.1.9", True),
    ("prior to 4.2", "4.2", False),
    ("vers:all/*", None, True),
    ("* (end-of-life 2011)", "9", True),
    ("vers:generic/>=1.0|<2.0", "1.5", True),
    ("<= 1.54 (integrated into GE MobileLink)", "1.50", True),
    ("< 1.8.4 Service Pack 01", "1.8.3", True),
    ("<= U61 |<= L81", "L80", True),
    ("<= U61 |<= L81", "U70", False),  # decided by the U line even though L cannot compare
    ("A10 < A11", "A10", True),
    (">=BT02 | <= BT06", "BT04", True),
    (">=BT02 | <= BT06", "BT08", False),
    ("<= 2.4A", "2.4", True),
    ("<=N", "M", True),
    ("<=N", "P", False),
])
def test_contains(spec: str, version: str | None, expected: bool) -> None:
    assert contains(parse_spec(spec), version) is expected


@pytest.mark.parametrize(("spec", "version"), [
    ("distributed  < april 1, 2018", "1.0"),  # a date, not a version
    ("< august 28", "2.0"),
    ("<= 2.3.6", None),  # the device reports no version
    ("< B.06.18", "C.01"),  # another letter line
    ("<=N", "B.06.10"),  # revision letters against a dotted firmware
    ("<= 2.3.6", "BT06"),
])
def test_undecidable_is_none_never_affected(spec: str, version: str | None) -> None:
    assert contains(parse_spec(spec), version) is None


def test_compare_is_numeric_per_segment() -> None:
    assert compare("9.19", "9.5") == 1
    assert compare("9.5", "9.33") == -1
    assert compare("v2.0", "2.0.0") == 0
    assert compare("BT06", "2.1") is None


@pytest.mark.parametrize(("text", "is_version"), [
    ("1.1 | 1.2 | 1.4 | 1.5", True), ("12.x", True), ("B.02", True), ("BT03 | BT04 | BT06", True),
    (">= 4.4 | <= 4.12", True), ("<=N", True), ("vers:all/*", True), ("2.3.6 and  below", True),
    ("1.1.3 MR Build 11", True),
    ("MMT-1711 | MMT-1712 | MMT-1751 | MMT-1752", False), ("882390 Gemini GXL 6 Slice", False),
    ("2nd Edition", False), ("v8.x model 35700BAX2", False), ("Rev J-M", False), ("24950 | 24952", False),
])
def test_version_or_model_in_the_version_field(text: str, is_version: bool) -> None:
    assert looks_like_version(text) is is_version

