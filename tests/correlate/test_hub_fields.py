"""What the hub needs in device records and events (issue 18): switch identity, forgotten, last_seen refresh."""

from __future__ import annotations

from sensor.classify.classifier import Classifier
from sensor.classify.rules import load_rules
from sensor.correlate.engine import Correlator, CorrelatorConfig
from sensor.correlate.tracker import TrackerSettings
from sensor.correlate.view import Settings
from tests.correlate.factory import DEVICE_PORT, PUMP, SW1_BASE, WS, dist, sw1

RULES = load_rules()


def make(**kw: float) -> Correlator:
    return Correlator(CorrelatorConfig(tracker=TrackerSettings(absence=15, intervals={"sw1": 15, "dist": 15},
                                                               forget_after=100),
                                       view=Settings(switch_hosts={"dist": "198.18.0.1"}), **kw),
                      Classifier(RULES))


def test_every_attachment_names_its_switch_chassis_mac() -> None:
    out = make().ingest([dist(10), sw1(11)], now=12)
    att = out.records[PUMP].attachment
    assert att is not None and (att.switch, att.switch_id) == ("sw1", SW1_BASE)
    ev = next(e for e in out.events if e.mac == PUMP)
    assert ev.attachment is not None and ev.attachment.switch_id == SW1_BASE


def test_forgetting_a_device_is_an_event_beside_the_empty_record() -> None:
    c = make()
    c.ingest([sw1(0)], now=0)
    where = {m: p for m, p in DEVICE_PORT.items() if m != WS}
    c.ingest([sw1(15, where)], now=15)  # disappeared
    out = c.ingest([sw1(200, where)], now=200)
    assert (WS, None) in out.devices
    forgotten = [e for e in out.events if e.event == "forgotten"]
    assert [e.mac for e in forgotten] == [WS] and forgotten[0].at.timestamp() == 200


def test_last_seen_is_refreshed_at_the_stated_granularity() -> None:
    c = make(last_seen_refresh=100)
    assert len(c.ingest([sw1(0)], now=0).devices) == 6
    assert c.ingest([sw1(15)], now=15).devices == []  # only last_seen moved, by less than the refresh
    assert c.ingest([sw1(90)], now=90).devices == []
    out = c.ingest([sw1(105)], now=105)
    assert len(out.devices) == 6 and out.events == []  # last_seen 105 s later: published again
    assert all(rec.last_seen.timestamp() == 105 for _, rec in out.devices if rec is not None)
    assert c.ingest([sw1(120)], now=120).devices == []
