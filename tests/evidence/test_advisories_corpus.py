"""Advisory matching on the 124 real CISA ICSMA documents of ../shared/corpus/advisories.

``data/advisory_register.csv`` is a register whose models appear in those documents (and
a few that must match nothing). ``EXPECTED`` below is what reading the documents says
each row is affected by (advisory ids, at vendor+product or better); the matcher's
precision and recall against it are printed and must stay above a floor.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sensor.evidence.advisories import AdvisoryIndex, DeviceFacts, Fact
from sensor.evidence.io import load_advisories, load_register
from tests.conftest import SHARED

CORPUS = SHARED / "corpus" / "advisories"
REGISTER = Path(__file__).parent / "data" / "advisory_register.csv"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"advisory corpus not found at {CORPUS} "
                                "(../shared absent)")

# Determined by reading the product trees (and titles) of the documents, not by running the matcher.
EXPECTED: dict[str, set[str]] = {
    "T01": {"ICSMA-17-017-02", "ICSMA-20-317-01", "ICSMA-20-170-06"},  # Alaris 8015 PCU 9.19
    "T02": {"ICSMA-17-017-01"},  # Alaris 8000: 20-170-06's PCU versions 9.13-12.1 are 8015 software
    "T03": {"ICSMA-18-235-01", "ICSMA-19-164-01"},  # Alaris GS 2.3.4 (and the Gateway advisory)
    "T04": {"ICSMA-20-170-04", "ICSMA-22-251-01"},  # Sigma Spectrum 35700BAX v6
    "T05": {"ICSMA-20-170-04", "ICSMA-22-251-01"},  # Spectrum IQ 35700BAX3 v9
    "T06": {"ICSMA-17-250-02A"},  # Medfusion 4000 1.5 (Smiths Medical, now ICU Medical)
    "T07": set(),  # Medfusion 4000 1.7: only 1.1, 1.5, 1.6 are affected
    "T08": {"ICSMA-17-255-01"},  # MX40 B.06.12 < B.06.18
    "T09": {"ICSMA-18-156-01", "ICSMA-20-254-01"},  # MX450 in MX400-550 and MX400-MX850
    "T10": {"ICSMA-17-318-01", "ICSMA-18-025-01", "ICSMA-18-226-01"},  # IntelliSpace Cardiovascular 2.3.0
    "T11": {"ICSMA-20-023-01"},  # CARESCAPE B450 2.X
    "T12": set(),  # B650 3.1: only 1.X and 2.X
    "T13": {"ICSMA-20-343-01", "ICSMA-20-049-02"},  # Vivid 7 BT04; "Vivid products, not including EchoPAC"
    "T14": {"ICSMA-22-263-01"},  # MiniMed 640G MMT-1712
    "T15": {"ICSMA-19-178-01"},  # MiniMed Paradigm 722 (18-219-02 is the MMT-503 remote control)
    "T16": {"ICSMA-21-152-01"},  # Connex Spot Monitor 1.40 < 1.52
    "T17": set(),  # Connex Vital Signs Monitor 2.43.02: fixed (< 2.43.02 affected)
    "T18": {"ICSMA-21-294-01", "ICSMA-20-296-02"},  # SpaceCom 2 L81
    "T19": {"ICSMA-18-123-01"},  # Brilliance iCT 4.1.0 <= 4.1.6
    "T20": {"ICSMA-22-151-01", "ICSMA-22-062-01", "ICSMA-18-114-01", "ICSMA-20-091-01"},  # MedStation ES 1.6.1
    "T21": set(),  # Phillips Machine & Welding: not Philips
    "T22": set(),  # Mindray: no advisory in the set
    "T23": set(),  # MX40 B.06.18: fixed
    "T24": {"ICSMA-17-009-01A"},  # Merlin@home EX1150 8.2.1 < 8.2.2 (St. Jude, now Abbott)
    "T25": set(),  # Medfusion 3500: only the 4000 is named
    "T26": {"ICSMA-20-049-01"},  # Xhibit Telemetry Receiver 96280 1.0.2
    "T27": {"ICSMA-20-196-01"},  # SmartLinx Neuron 2 9.0.1 <= 9.0.3
    "T28": {"ICSMA-21-047-01"},  # HAMILTON-T1 2.2.1 <= 2.2.3
    "T29": {"ICSMA-20-343-01"},  # Optima CT660, all versions
    "T30": {"ICSMA-17-215-01", "ICSMA-17-215-02"},  # Symbia.net workplaces
}


# Ten more rows, written after the matcher was tuned on the thirty above and run on it once:
# precision 1.000, recall 0.846 then (11 of 13; H07 and H10 missed); H10's miss was a tokenizer defect
# ("Bed 2141" read as one token "bed2141"), fixed since and tested in test_tokens_*.
HOLDOUT = Path(__file__).parent / "data" / "advisory_register_holdout.csv"
EXPECTED_HOLDOUT: dict[str, set[str]] = {
    "H01": {"ICSMA-18-156-01", "ICSMA-20-254-01", "ICSMA-19-255-01"},  # MX800: MX700/800, MX400-MX850, MX800/700/600
    "H02": {"ICSMA-20-343-01", "ICSMA-20-049-02"},  # LOGIQ 9 BT04; "LOGIQ, not including LOGIQ 100 Pro"
    "H03": {"ICSMA-20-317-01"},  # Alaris Systems Manager 4.30 <= 4.33
    "H04": {"ICSMA-19-178-01"},  # MiniMed 508 (18-219-02 is the MMT-500 remote control)
    "H05": {"ICSMA-22-167-01"},  # ELI 280 2.3.0 <= 2.3.1
    "H06": {"ICSMA-20-170-01"},  # ExactaMix EM2400 1.13
    "H07": {"ICSMA-20-343-01"},  # EchoPAC BT06 ("EchoPAC (Turnkey)"; 20-049-02 excludes EchoPAC)
    "H08": {"ICSMA-19-022-01"},  # Infinity Delta XL
    "H09": {"ICSMA-18-310-01"},  # CoaguChek XS Pro
    "H10": {"ICSMA-19-029-01"},  # InTouch ICU Bed 2141
}


@pytest.fixture(scope="module")
def index() -> AdvisoryIndex:
    loaded = load_advisories(CORPUS)
    assert loaded.unreadable == []
    return loaded.index()


def _facts(row_manufacturer: str, model: str, firmware: str) -> DeviceFacts:
    return DeviceFacts(vendors=(Fact("register", row_manufacturer),), models=(Fact("register", model),),
                       versions=(Fact("register firmware", firmware),) if firmware else ())


def test_every_document_is_read_quickly() -> None:
    started = time.perf_counter()
    loaded = load_advisories(CORPUS)
    seconds = time.perf_counter() - started
    print(f"\nadvisories: {len(loaded.advisories)} read, {len(loaded.unreadable)} unreadable, in {seconds:.3f} s")
    assert len(loaded.advisories) == 124 and loaded.unreadable == []
    assert sum(len(a.products) for a in loaded.advisories) > 500


def _score(index: AdvisoryIndex, register: Path, expected: dict[str, set[str]]) -> tuple[float, float, list[str]]:
    rows = load_register(register).rows
    assert {r.asset_tag for r in rows} == set(expected)
    tp = fp = fn = 0
    wrong: list[str] = []
    for r in rows:
        got = {m.advisory for m in index.match(_facts(r.manufacturer, r.model, r.firmware))
               if m.confidence != "vendor"}
        want = expected[r.asset_tag]
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        if got != want:
            wrong.append(f"{r.asset_tag} {r.model}: extra {sorted(got - want)}, missed {sorted(want - got)}")
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"\nadvisory matching on {register.name} ({len(rows)} rows): {tp} right, {fp} wrong, {fn} missed; "
          f"precision {precision:.3f}, recall {recall:.3f}\n  " + "\n  ".join(wrong))
    return precision, recall, wrong


def test_precision_and_recall_on_the_register(index: AdvisoryIndex) -> None:
    precision, recall, wrong = _score(index, REGISTER, EXPECTED)
    assert precision >= 0.9 and recall >= 0.9, wrong


def test_precision_and_recall_on_the_held_out_rows(index: AdvisoryIndex) -> None:
    precision, recall, wrong = _score(index, HOLDOUT, EXPECTED_HOLDOUT)
    assert precision >= 0.9 and recall >= 0.85, wrong


def test_a_match_carries_basis_cves_scores_and_remediations(index: AdvisoryIndex) -> None:
    # ICSMA-22-251-01 (Baxter Sigma Spectrum): the 6.x pump with model 35700BAX; CISA gives fixes and mitigations.
    m = {x.advisory: x for x in index.match(_facts("Baxter", "Sigma Spectrum 35700BAX", "6.05"))}["ICSMA-22-251-01"]
    assert m.confidence == "vendor+product+version"
    assert any("Baxter" in b and "register" in b for b in m.basis)
    assert any("35700BAX" in b for b in m.basis)
    assert {c.id for c in m.cves} >= {"CVE-2022-26390", "CVE-2022-26392"}
    assert all(c.cvss is not None and 0 < c.cvss <= 10 for c in m.cves)
    assert m.max_cvss == max(c.cvss or 0 for c in m.cves)
    assert m.remediations == ("vendor_fix", "mitigation")


def test_confidence_levels(index: AdvisoryIndex) -> None:
    by = lambda f: {m.advisory: m.confidence for m in index.match(f)}  # noqa: E731
    # Version unknown: vendor and product only.
    assert by(_facts("GE Healthcare", "CARESCAPE B450", ""))["ICSMA-20-023-01"] == "vendor+product"
    # No model known: every advisory of the vendor, at vendor confidence.
    vendor_only = by(DeviceFacts(vendors=(Fact("OUI", "Philips Patient Monitoring"),)))
    assert len(vendor_only) == 37 and set(vendor_only.values()) == {"vendor"}
    # A version outside every matched range removes the match rather than lowering it.
    assert "ICSMA-17-255-01" not in by(_facts("Philips", "IntelliVue MX40", "B.06.18"))


def test_lldp_med_facts_match_like_register_facts(index: AdvisoryIndex) -> None:
    facts = DeviceFacts(vendors=(Fact("OUI", "Philips Patient Monitoring"), Fact("LLDP-MED manufacturer", "Philips")),
                        models=(Fact("LLDP-MED model", "MX40"),), versions=(Fact("LLDP-MED firmware", "B.06.12"),))
    m = next(x for x in index.match(facts) if x.advisory == "ICSMA-17-255-01")
    assert m.confidence == "vendor+product+version"
    assert any('LLDP-MED firmware "B.06.12"' in b for b in m.basis)


def test_enrichment_cache_is_bounded_and_counts_resets(index: AdvisoryIndex) -> None:
    from sensor.evidence.enrich import Evidence, enrich
    from tests.evidence.test_register import rec

    records = {r.mac: r for r in (rec("00:09:fb:00:00:01", vendor="Philips Patient Monitoring"),
                                  rec("58:42:e4:00:00:01", vendor="Baxter International Inc"))}
    ev = Evidence(advisories=index, cache_limit=1)
    out, summary = enrich(records, ev, now=0.0)
    assert summary is None and len(ev.cache) == 1 and ev.cache_resets == 1
    assert out["00:09:fb:00:00:01"].advisories_vendor_only and out["58:42:e4:00:00:01"].advisories_vendor_only
