"""The asset register: parsing a CMMS export and reconciling it with the device records."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec

from sensor.correlate.model import Attachment, Classification, DeviceRecord, IpAddress, Neighbour, Risk
from sensor.evidence.register import Settings, parse_register, reconcile

NOW = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
DAY = 86400.0


def rec(mac: str, *, ip: str | None = None, vendor: str | None = None, medical: bool = True,
        switch: str = "icu3-access", port: str = "ge1", seen_days_ago: float = 0, present: bool = True,
        lldp_model: str = "", lldp_maker: str = "") -> DeviceRecord:
    seen = datetime.fromtimestamp(NOW - seen_days_ago * DAY, UTC)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    return DeviceRecord(
        mac=mac, present=present, vendor=vendor, first_seen=first, last_seen=seen,
        attachment=Attachment(switch=switch, port=port, ifindex=1, vlan=10, confidence=1.0),
        ips=(IpAddress(ip=ip, version=4, router="dist", first_seen=first, last_seen=seen),) if ip else (),
        neighbour=Neighbour(protocol="lldp", manufacturer=lldp_maker, model=lldp_model) if lldp_model else None,
        classification=Classification(device_class="infusion_pump" if medical else "workstation", label="x",
                                      medical=medical),
        risk=Risk(score=10, level="low"))


CMMS = """\
Equipment ID,Mfr,Model Number,S/N,MAC Address,IP Address,Dept,Room,Responsible,Life Support,Patchable,EOS
EQ-1,Baxter,Sigma Spectrum,S1,58-42-E4-00-00-01,,ICU,ICU 3,Biomed A,Y,N,2027-06-30
EQ-2,Philips,MX450,S2,,10.1.1.22,ICU,ICU 3,Biomed A,Y,N,
EQ-3,BD,Alaris 8015,S3,,,ICU,ICU 3,Biomed B,Y,N,2025
EQ-4,GE Healthcare,B450,S4,00:00:5e:00:53:04,,ED,ED 1,Biomed B,N,Y,
"""


def test_cmms_headers_are_recognised_and_values_typed() -> None:
    p = parse_register(CMMS, "cmms.csv")
    assert p.problems == [] and p.rejected == 0
    assert p.columns["asset_tag"] == "Equipment ID" and p.columns["high_risk"] == "Life Support"
    assert p.columns["location"] == "Room" and p.columns["end_of_support"] == "EOS"
    r = p.rows[0]
    assert (r.asset_tag, r.mac, r.high_risk, r.patchable, r.end_of_support) == (
        "EQ-1", "58:42:e4:00:00:01", True, False, date(2027, 6, 30))
    assert p.rows[2].end_of_support == date(2025, 1, 1)


def test_column_mapping_for_other_exports() -> None:
    text = "Kennung,Hersteller,Typ,Netzwerkadresse\nK1,B. Braun,SpaceCom,00:00:5e:00:53:01\n"
    p = parse_register(text, "de.csv", {"asset_tag": "Kennung", "manufacturer": "Hersteller", "model": "Typ",
                                        "mac": "Netzwerkadresse"})
    assert p.problems == [] and p.rows[0].model == "SpaceCom" and p.rows[0].mac == "00:00:5e:00:53:01"
    bad = parse_register(text, "de.csv", {"asset_tag": "Inventarnummer"})
    assert bad.problems[0].startswith("de.csv:1:1: [register.columns] asset_tag = \"Inventarnummer\"")


def test_every_problem_with_file_line_column_and_good_rows_kept() -> None:
    text = ('asset_tag,manufacturer,model,mac,ip,high_risk,end_of_support\n'
            'A1,Philips,"MX40, WLAN",00:09:fb:00:00:01,10.0.0.1,yes,2027-01-01\n'
            'A2,BD,"Alaris, 8015",zz:zz,10.0.0.300,maybe,31/12/2026\n'
            'A1,GE,B450,,,,\n'
            'A4,GE,B650,00:09:FB:00:00:01,,,\n'
            'A5,too,few\n'
            ',GE,B850,,,,\n'
            'A7,"Smiths\nMedical",Medfusion 4000,,10.0.0.7,no,\n')
    p = parse_register(text, "reg.csv")
    assert p.problems == [
        "reg.csv:3:22: mac: expected a MAC address like 00:1a:2b:3c:4d:5e, got \"zz:zz\"",
        "reg.csv:3:28: ip: expected an IPv4 or IPv6 address, got \"10.0.0.300\"",
        "reg.csv:3:39: high_risk: expected yes or no (also y/n, true/false, 1/0), got \"maybe\"",
        "reg.csv:3:45: end_of_support: expected a date written YYYY-MM-DD (or YYYY-MM, YYYY), got \"31/12/2026\"",
        "reg.csv:4:1: asset tag \"A1\" is already on line 2",
        "reg.csv:5:12: MAC 00:09:fb:00:00:01 is already on line 2",
        "reg.csv:6:1: 3 fields where the header has 7: check for an unquoted comma",
        "reg.csv:7:1: asset_tag is empty: every row needs one",
    ]
    # Nothing else lost: the good rows, including one with a quoted line break, are all there.
    assert [r.asset_tag for r in p.rows] == ["A1", "A7"] and p.rejected == 5
    assert p.rows[1].line == 8 and p.rows[1].manufacturer == "Smiths\nMedical"


def test_unusable_files_say_what_to_do() -> None:
    assert "empty" in parse_register("", "e.csv").problems[0]
    assert "no asset tag column" in parse_register("mac,ip\n00:09:fb:00:00:01,10.0.0.1\n", "n.csv").problems[0]
    assert parse_register('a,"b\n', "q.csv").problems[0].startswith("q.csv:1:1: not valid CSV")


def test_bom_and_windows_line_ends() -> None:
    p = parse_register("\ufeffasset_tag,mac\r\nA1,00:09:fb:00:00:01\r\n", "w.csv")
    assert p.problems == [] and p.rows[0].mac == "00:09:fb:00:00:01"


def test_reconcile_by_mac_then_ip_then_manufacturer_model_location() -> None:
    rows = parse_register(CMMS, "cmms.csv").rows
    records = [
        rec("58:42:e4:00:00:01", vendor="Baxter International Inc"),  # EQ-1 by MAC
        rec("00:09:fb:00:00:02", ip="10.1.1.22", vendor="Philips Patient Monitoring"),  # EQ-2 by IP
        rec("00:0a:b8:00:00:03", vendor="Becton Dickinson", lldp_model="Alaris 8015", switch="icu3-access"),
        rec("00:0a:b8:00:00:09", vendor="Becton Dickinson", lldp_model="Alaris 8015", switch="ed1-access"),
        rec("00:09:fb:00:00:99", vendor="Philips Patient Monitoring"),  # shadow
        rec("f8:bc:12:00:00:01", vendor="Dell Inc.", medical=False),  # not medical: not a shadow
    ]
    st = Settings(locations={"ICU 3": ["icu3-access"]})
    r = reconcile(rows, records, NOW, file="cmms.csv", settings=st)
    by = {m.asset_tag: m for m in r.summary.matches}
    assert (by["EQ-1"].mac, by["EQ-1"].basis) == ("58:42:e4:00:00:01", "mac")
    assert (by["EQ-2"].mac, by["EQ-2"].basis) == ("00:09:fb:00:00:02", "ip")
    assert (by["EQ-3"].mac, by["EQ-3"].basis) == ("00:0a:b8:00:00:03", "manufacturer+model+location")
    assert "icu3-access" in by["EQ-3"].detail
    assert r.summary.matched_by == {"mac": 1, "ip": 1, "manufacturer+model+location": 1}
    assert [u.asset_tag for u in r.summary.unseen_assets] == ["EQ-4"]
    assert r.summary.unseen_assets[0].last_seen is None and "never seen" in r.summary.unseen_assets[0].why
    assert {s.mac for s in r.summary.shadow_devices} == {"00:09:fb:00:00:99", "00:0a:b8:00:00:09"}
    f = r.fields["58:42:e4:00:00:01"]
    assert (f.asset_tag, f.owner, f.department, f.high_risk, f.patchable, f.end_of_support) == (
        "EQ-1", "Biomed A", "ICU", True, False, date(2027, 6, 30))
    msgspec.json.encode(r.summary)  # the summary is a publishable message


def test_not_seen_for_n_days_and_ambiguity() -> None:
    rows = parse_register(CMMS, "cmms.csv").rows
    records = [rec("58:42:e4:00:00:01", vendor="Baxter International Inc", seen_days_ago=10, present=False),
               rec("00:0a:b8:00:00:03", vendor="BD", lldp_model="Alaris 8015"),
               rec("00:0a:b8:00:00:04", vendor="BD", lldp_model="Alaris 8015")]
    r = reconcile(rows, records, NOW, settings=Settings(unseen_after=7 * DAY, locations={"ICU 3": ["icu3-access"]}))
    unseen = {u.asset_tag: u for u in r.summary.unseen_assets}
    assert unseen["EQ-1"].mac == "58:42:e4:00:00:01" and "more than 7 days" in unseen["EQ-1"].why
    # Two BD Alaris 8015 on the ICU switch: neither is claimed, and the row says why.
    assert "2 devices fit" in unseen["EQ-3"].why
    assert r.summary.shadows == 2
    # Seen 10 days ago is fine with a 14-day window.
    r14 = reconcile(rows, records, NOW, settings=Settings(unseen_after=14 * DAY))
    assert "EQ-1" not in {u.asset_tag for u in r14.summary.unseen_assets}


def test_register_and_network_disagreeing_is_noted() -> None:
    rows = parse_register("asset_tag,manufacturer,mac,ip\nA1,GE Healthcare,00:09:fb:00:00:01,10.0.0.9\n", "r.csv").rows
    r = reconcile(rows, [rec("00:09:fb:00:00:01", ip="10.0.0.1", vendor="Philips Patient Monitoring")], NOW)
    notes = r.summary.matches[0].notes
    assert any("register says IP 10.0.0.9" in n for n in notes)
    assert any('manufacturer "GE Healthcare"' in n for n in notes)


def test_lists_are_bounded_and_counted() -> None:
    records = [rec(f"00:09:fb:00:01:{i:02x}", vendor="Philips") for i in range(30)]
    r = reconcile([], records, NOW, settings=Settings(max_listed=10))
    assert r.summary.shadows == 30 and len(r.summary.shadow_devices) == 10 and r.summary.dropped == 20
