"""Vendor lookup, whole-name matching, rules, overrides, hysteresis and risk."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.facts import LldpNeighbor
from sensor.classify.classifier import Classifier, FlowHints
from sensor.classify.names import normalize_org, org_matches
from sensor.classify.oui import OuiRegistry, Vendor, registry
from sensor.classify.risk import Policy, VlanPeers, assess
from sensor.classify.rules import load_rules
from sensor.config import ClassificationOverride
from sensor.errors import ConfigError

RULES = load_rules()
CL = Classifier(RULES)


def decide(mac: str, **kw: object):
    return CL.classify(mac, registry().lookup(mac), **kw).classification  # type: ignore[arg-type]


@pytest.mark.parametrize(("mac", "vendor", "cls"), [
    ("58:42:e4:12:10:21", "Baxter International Inc", "infusion_pump"),       # the lab pump
    ("00:09:fb:12:10:22", "Philips Patient Monitoring", "patient_monitor"),    # the lab monitor
    ("f8:bc:12:12:10:23", "Dell Inc.", "workstation"),                        # the lab workstation
    ("00:d0:75:00:00:01", "Alaris Medical Systems, Inc.", "infusion_pump"),
    ("00:b0:94:00:00:01", "Alaris, Inc.", "infusion_pump"),
    ("00:03:b1:00:00:01", "ICU Medical, Inc.", "infusion_pump"),
    ("00:0f:14:00:00:01", "Mindray Co., Ltd.", "patient_monitor"),
    ("00:a0:aa:00:00:01", "Spacelabs Medical", "patient_monitor"),
    ("00:1a:fa:00:00:01", "Welch Allyn, Inc.", "patient_monitor"),
    ("00:09:5c:00:00:01", "Philips Medical Systems - Cardiac and Monitoring Systems (CM", "patient_monitor"),
    ("00:06:6b:00:00:01", "Sysmex Corporation", "lab_analyzer"),
    ("00:1d:4a:00:00:01", "Carestream Health, Inc.", "imaging"),
    ("00:09:ef:00:00:01", "Vocera Communications", "clinical_communications"),
    ("9c:c8:ae:00:00:01", "Becton, Dickinson and Company", "infusion_pump"),
    ("70:b3:d5:36:a0:01", "Becton Dickinson", "infusion_pump"),                # an MA-S block in the IEEE /24
])
def test_real_medical_ouis(mac: str, vendor: str, cls: str) -> None:
    v = registry().lookup(mac)
    assert v is not None and v.name == vendor
    c = decide(mac)
    assert c.device_class == cls, c.reasons
    assert c.reasons and c.confidence > 0


@pytest.mark.parametrize(("mac", "vendor"), [
    ("00:00:66:00:00:01", "Talaris Systems, Inc."),      # not Alaris
    ("00:00:a1:00:00:01", "Marquette Electric Co."),     # not GE/Marquette Medical
    ("08:00:19:00:00:01", "General Electric Corporation"),  # GE, but not GE Healthcare
])
def test_look_alikes_are_not_medical(mac: str, vendor: str) -> None:
    assert registry().lookup(mac).name == vendor  # type: ignore[union-attr]
    c = decide(mac)
    assert c.device_class == "unknown" and not c.medical


def test_longest_block_first() -> None:
    reg = OuiRegistry("70:B3:D5\tIEEERegi\tIEEE Registration Authority\n"
                      "70:B3:D5:36:A0/36\tBectonDickin\tBecton Dickinson\n"
                      "70:B3:D5:30/28\tSomeone\tSomeone Else\n")
    assert reg.lookup("70:b3:d5:36:a1:23") == Vendor("70:b3:d5:36:a0/36", "BectonDickin", "Becton Dickinson")
    assert reg.lookup("70:b3:d5:31:00:00").name == "Someone Else"  # type: ignore[union-attr]
    assert reg.lookup("70:b3:d5:00:00:00").name == "IEEE Registration Authority"  # type: ignore[union-attr]
    assert reg.lookup("00:00:00:00:00:01") is None
    assert len(registry()) > 50_000


def test_whole_name_matching() -> None:
    assert normalize_org("Becton, Dickinson  and Company") == normalize_org("Becton Dickinson") == "becton dickinson"
    assert normalize_org("Ascom Danmark A/S") == "ascom danmark"
    assert not org_matches("Talaris Systems, Inc.", exact=frozenset({"alaris"}), prefixes=("alaris",))
    assert org_matches("Alaris Medical Systems, Inc.", prefixes=("alaris",))
    assert not org_matches("Marquette Electric Co.", exact=frozenset({normalize_org("Marquette Medical Systems")}))


def test_network_module_is_not_the_device_maker() -> None:
    d = CL.classify("00:80:a3:00:00:01", registry().lookup("00:80:a3:00:00:01"))
    assert d.vendor_note == "network module by Lantronix"
    assert d.classification.device_class == "unknown"
    assert any("maker is not known" in r for r in d.classification.reasons)


def test_lldp_phone_and_monitor_evidence() -> None:
    phone = LldpNeighbor(switch="sw1", ifindex=7, chassis_id="00:1e:7a:12:10:24", sys_name="SEP001E7A121024",
                         capabilities=("bridge", "telephone"))
    c = decide("00:1e:7a:12:10:24", neighbour=phone)
    assert c.device_class == "ip_phone" and c.confidence > 0.7
    mon = LldpNeighbor(switch="sw1", ifindex=5, sys_desc="Philips IntelliVue MX450")
    assert decide("00:11:22:33:44:55", neighbour=mon).device_class == "patient_monitor"


def test_one_weak_clue_does_not_flip_a_class() -> None:
    mac = "58:42:e4:12:10:21"
    v = registry().lookup(mac)
    first = CL.classify(mac, v)
    assert first.classification.device_class == "infusion_pump"
    # DICOM use is a weak imaging clue: stays a pump
    d = CL.classify(mac, v, flows=FlowHints(serves=frozenset({104})), previous=("infusion_pump", first.score))
    assert d.classification.device_class == "infusion_pump"
    # a phone loses its LLDP entry for a poll: the Cisco OUI alone does not make it a network device
    d = CL.classify("00:1e:7a:12:10:24", registry().lookup("00:1e:7a:12:10:24"), previous=("ip_phone", 0.9))
    assert d.classification.device_class == "ip_phone"
    assert any("too weak" in r for r in d.classification.reasons)
    # strong, consistent evidence does change it
    mon = LldpNeighbor(switch="s", ifindex=1, sys_desc="IntelliVue MX800")
    d = CL.classify("00:09:fb:00:00:01", registry().lookup("00:09:fb:00:00:01"), neighbour=mon,
                    flows=FlowHints(uses=frozenset({24105})), previous=("workstation", 0.4))
    assert d.classification.device_class == "patient_monitor"


def test_flow_ports_hook() -> None:
    c = decide("00:11:22:33:44:55", flows=FlowHints(serves=frozenset({11112})))
    assert c.device_class == "imaging" and any("DICOM" in r for r in c.reasons)


def test_overrides_mac_oui_vendor() -> None:
    cl = Classifier(RULES, [
        ClassificationOverride(device_class="patient_monitor", mac="f8:bc:12:12:10:23", note="central station"),
        ClassificationOverride(device_class="printer", oui="3c:52:82"),
        ClassificationOverride(device_class="lab_analyzer", vendor="Dell Inc"),
    ])
    c = cl.classify("f8:bc:12:12:10:23", registry().lookup("f8:bc:12:12:10:23")).classification
    assert (c.device_class, c.confidence, c.medical) == ("patient_monitor", 1.0, True)
    assert "central station" in c.reasons
    assert cl.classify("3c:52:82:00:00:01", registry().lookup("3c:52:82:00:00:01")).classification.device_class == "printer"
    assert cl.classify("f8:bc:12:00:00:01", registry().lookup("f8:bc:12:00:00:01")).classification.device_class == "lab_analyzer"
    with pytest.raises(ConfigError, match=r"override\[1\].class: unknown class"):
        Classifier(RULES, [ClassificationOverride(device_class="toaster", mac="00:00:00:00:00:01")])
    with pytest.raises(ConfigError, match="exactly one of mac, oui or vendor"):
        Classifier(RULES, [ClassificationOverride(device_class="printer", mac="00:00:00:00:00:01", oui="00:00:00")])


def test_user_rules_file_extends_the_shipped_rules(tmp_path: Path) -> None:
    f = tmp_path / "rules.toml"
    f.write_text('[classes.bed]\nlabel = "Smart bed"\nmedical = true\ncriticality = 3\n'
                 '[[vendor]]\nclass = "bed"\nweight = 0.9\norgs = ["Talaris Systems"]\n')
    cl = Classifier(load_rules(str(f)))
    assert cl.classify("00:00:66:00:00:01", registry().lookup("00:00:66:00:00:01")).classification.device_class == "bed"
    f.write_text('[[vendor]]\nclass = "nope"\nweight = 0.9\norgs = ["X"]\n')
    with pytest.raises(ConfigError, match='unknown class "nope"'):
        load_rules(str(f))
    f.write_text('[[lldp]]\nfield = "sys_desc"\npattern = "("\nclass = "printer"\nweight = 0.5\n')
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        load_rules(str(f))


def test_risk_flat_network_and_policy() -> None:
    pump = decide("58:42:e4:12:10:21")
    flat = assess(pump, 5, 10, VlanPeers(workstations=2, workstation_examples=("f8:bc:12:12:10:23", "x")), Policy())
    names = {f.name for f in flat.factors}
    assert "flat_network" in names and flat.score == sum(f.points for f in flat.factors) and flat.level == "high"
    isolated = assess(pump, 5, 20, VlanPeers(), Policy(expected_vlans={"infusion_pump": frozenset({20})}))
    assert {f.name for f in isolated.factors} == {"exposure", "expected_segment"} and isolated.score < flat.score
    outside = assess(pump, 5, 10, VlanPeers(), Policy(expected_vlans={"infusion_pump": frozenset({20})}))
    assert "outside_expected_segment" in {f.name for f in outside.factors}
    ws = decide("f8:bc:12:12:10:23")
    assert assess(ws, 2, 10, VlanPeers(workstations=1), Policy()).level == "low"  # not medical: no flat finding
    worst = assess(pump, 5, 10, VlanPeers(workstations=3, unknown=2), Policy(),
                   FlowHints(uses=frozenset({23, 80}), external_peers=2, unexpected_peers=1), RULES.cleartext)
    assert worst.score == 100 and worst.level == "critical"
    assert any("Telnet" in f.detail for f in worst.factors)


# --- LLDP-MED inventory ---------------------------------------------------------------------

def med(model: str = "", manufacturer: str = "", chassis: str = "") -> LldpNeighbor:
    return LldpNeighbor(switch="s", ifindex=3, chassis_id=chassis, med_class="endpoint-1",
                        med_manufacturer=manufacturer, med_model=model)


@pytest.mark.parametrize(("model", "cls"), [
    ("IntelliVue MX450", "patient_monitor"), ("CARESCAPE B450", "patient_monitor"),
    ("Alaris 8015 PC Unit", "infusion_pump"), ("Sigma Spectrum IQ", "infusion_pump"), ("CP-8845", "ip_phone"),
])
def test_lldp_med_model_is_a_clue_with_its_reason(model: str, cls: str) -> None:
    c = decide("02:00:00:00:00:01", neighbour=med(model))
    assert c.device_class == cls
    assert any(r.startswith(f'LLDP-MED model "{model}"') for r in c.reasons), c.reasons
    assert c.confidence <= 0.6  # a model string alone is moderate evidence


def test_lldp_med_manufacturer_is_matched_as_a_whole_name() -> None:
    # a Lantronix module in a Baxter pump: the registry only knows the module maker
    d = CL.classify("00:80:a3:00:00:01", registry().lookup("00:80:a3:00:00:01"),
                    med(manufacturer="Baxter International Inc."))
    assert d.vendor_note == "network module by Lantronix"
    assert d.classification.device_class == "infusion_pump" and d.classification.medical
    assert any(r.startswith('LLDP-MED manufacturer "Baxter International Inc."') for r in d.classification.reasons)
    # "Becton, Dickinson  and Company" as IEEE spells it; "Talaris" is not Alaris
    assert decide("02:00:00:00:00:02", neighbour=med(manufacturer="Becton, Dickinson  and Company")
                  ).device_class == "infusion_pump"
    for look_alike in ("Talaris Systems, Inc.", "Marquette Electric Co.", "Alaris Systems Integration Ltd"):
        c = decide("02:00:00:00:00:03", neighbour=med(manufacturer=look_alike))
        assert c.device_class == "unknown" and not c.medical, (look_alike, c.reasons)


def test_lldp_med_manufacturer_agreeing_with_the_registry_is_not_counted_twice() -> None:
    mac = "58:42:e4:12:10:21"  # Baxter
    alone = CL.classify(mac, registry().lookup(mac))
    both = CL.classify(mac, registry().lookup(mac), med(manufacturer="Baxter International"))
    assert both.score == alone.score
    assert any("agrees with the MAC's registry entry" in r for r in both.classification.reasons)


def test_one_lldp_med_clue_does_not_flip_a_class() -> None:
    mac = "f8:bc:12:12:10:23"  # Dell: a workstation
    first = CL.classify(mac, registry().lookup(mac))
    d = CL.classify(mac, registry().lookup(mac), med("IntelliVue MX450"),
                    previous=("workstation", first.score))
    assert d.classification.device_class == "workstation"
    assert any("too weak" in r for r in d.classification.reasons)
    # with the manufacturer as well, it is a monitor (Philips Medical Systems: a monitoring maker)
    d = CL.classify(mac, registry().lookup(mac), med("IntelliVue MX450", "Philips Medical Systems"),
                    previous=("workstation", first.score))
    assert d.classification.device_class == "patient_monitor", d.classification.reasons
