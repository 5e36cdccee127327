"""Watching the approved policy in the flow source: violations, de-duplication, the retained message."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import msgspec

from sensor.config import parse_config
from sensor.flows.source import FlowSource
from sensor.policy.document import dump_policy
from sensor.policy.matrix import Matrix
from sensor.policy.propose import Placer, inventory, propose, served_servers
from sensor.policy.watch import PolicyWatch
from sensor.policy.zones import Zoning
from tests.flows.build import flow_record
from tests.policy import scenario as sc
from tests.support.schemas import validate_message

T0 = 1_800_000_000.0


def approved_file(path: Path) -> None:
    cfg = parse_config('[sensor]\nsite = "lab"\nstate_dir = "/tmp/x"\n', check_files=False)
    m = Matrix()
    for end, convs in sc.windows(6, T0):
        m.add_window(convs, end)
    devices = inventory(sc.device_records())
    placer = Placer(Zoning.from_config(cfg.policy, sc.INTERNAL, served_servers(m.entries, devices)), devices)
    doc = propose(m.entries, placer, cfg.policy, now=T0 + 2000).doc
    doc = msgspec.structs.replace(doc, rule=[msgspec.structs.replace(r, state="approved", by="biomed")
                                             for r in doc.rule if r.kind == "allow"])
    path.write_text(dump_policy(doc))


def envelope(kind: str, data: object) -> bytes:
    return json.dumps({"schema": "edge-sensor/v1", "kind": kind, "site": "lab", "sensor": "t", "seq": 1,
                       "observed_at": "2026-12-02T00:00:00.000Z", "data": data}).encode()


def source(tmp_path: Path) -> FlowSource:
    cfg = parse_config(f'[sensor]\nsite = "lab"\nstate_dir = "{tmp_path}"\n[flows]\nallowed_exporters = '
                       f'["127.0.0.1"]\ninternal = ["10.0.0.0/8"]\nrealert = "1h"\n'
                       f'[policy]\nfile = "{tmp_path / "approved.toml"}"\n', check_files=False)
    assert cfg.flows is not None
    return FlowSource(cfg.flows, tmp_path, directory=sc.directory(), policy=cfg.policy)


def test_violations_deduplicated_realerted_and_valid(tmp_path: Path) -> None:
    approved_file(tmp_path / "approved.toml")
    src = source(tmp_path)
    assert src.watch is not None and src.watch.doc is not None
    normal = sc.window_records(0)
    attempt = [flow_record("10.40.0.11", "10.30.0.22", 52001, 23, 6, 300, 4),  # workstation telnet to a pump
               flow_record("10.30.0.22", "10.40.0.11", 23, 52001, 6, 60, 2),
               flow_record("10.30.0.23", "198.51.100.9", 53002, 443, 6, 900, 6)]  # pump to the outside
    def window(s: Any, records: Any, start: float, end: float) -> tuple[Any, list[dict[str, Any]]]:
        convs, evs = s.window(sc.table(records), start, end)
        return convs, [msgspec.to_builtins(e) for e in evs]  # typed events, as published

    _, events = window(src, normal, T0 + 3000, T0 + 3300)
    assert [e for e in events if e["event"] == "policy_violation"] == []  # everything observed was approved
    _, events = window(src, normal + attempt, T0 + 3300, T0 + 3600)
    v = [e for e in events if e["event"] == "policy_violation"]
    # the workstation's attempt is one event although both ends are devices
    assert sorted((e["ip"], e["peer"]["ip"], e["peer"]["port"]) for e in v) == [
        ("10.30.0.23", "198.51.100.9", 443), ("10.40.0.11", "10.30.0.22", 23)]
    ws = next(e for e in v if e["peer"]["port"] == 23)
    assert ws["device"] == "3c:52:82:00:00:11" and ws["zone"] == "clinical_workstations"
    assert ws["peer_zone"] == "medication_delivery" and ws["application"] == "telnet" and ws["bytes"] == 360
    out = next(e for e in v if e["peer"]["port"] == 443)
    assert out["peer_zone"] == "external" and out["rule"] is None
    for e in v:
        validate_message("edge-sensor/v1/lab/t/events", envelope("event", e))
    # the same attempt in the next window is not repeated before realert (1h) ...
    _, events = window(src, normal + attempt, T0 + 3600, T0 + 3900)
    assert [e for e in events if e["event"] == "policy_violation"] == []
    src.persist()
    # ... also after a restart; after realert it fires again
    src2 = source(tmp_path)
    _, events = window(src2, attempt, T0 + 4000, T0 + 4300)
    assert [e for e in events if e["event"] == "policy_violation"] == []
    _, events = window(src2, attempt, T0 + 7300, T0 + 7600)
    assert len([e for e in events if e["event"] == "policy_violation"]) == 2


def test_retained_policy_message_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "approved.toml"
    approved_file(path)
    w = PolicyWatch(path, tmp_path)
    summary = w.summary()
    assert summary is not None
    s = msgspec.to_builtins(summary)
    assert s["approved_rules"] == 4 and len(s["hash"]) == 64
    zones = {z["zone"]: z for z in s["zones"]}
    assert zones["medication_delivery"]["rules_from"] == 2 and zones["medication_delivery"]["devices"] == 3
    validate_message("edge-sensor/v1/lab/t/policy", envelope("policy", s))
    first = w.digest
    # a broken edit keeps the last good policy in force
    path.write_text(path.read_text().replace('\nstate = "approved"', '\nstate = "maybe"', 1))
    import os

    os.utime(path, (T0, T0))
    assert not w.reload() and w.digest == first
    # a rejected rule changes what is enforced, so the hash
    approved_file(path)
    path.write_text(path.read_text().replace('\nstate = "approved"', '\nstate = "rejected"', 1))
    os.utime(path, (T0 + 1, T0 + 1))
    assert w.reload() and w.digest != first and w.summary().approved_rules == 3  # type: ignore[union-attr]


def test_violations_feed_the_risk_score() -> None:
    from sensor.classify.risk import Policy, assess
    from sensor.correlate.model import Classification
    from sensor.directory import DeviceDirectory

    d = DeviceDirectory(internal_prefixes=sc.INTERNAL)
    d.add_window([c for _, convs in sc.windows(1, T0) for c in convs])
    pump = "58:42:e4:00:00:22"
    d.add_violations([pump, pump, "3c:52:82:00:00:11"])
    hints = d.flow_hints()
    assert hints[pump].policy_violations == 2 and hints[pump].uses  # the ports learned are kept
    c = Classification(device_class="infusion_pump", label="Infusion pump", medical=True)
    before = assess(c, 5, 30, None, Policy(), dataclasses.replace(hints[pump], policy_violations=0))
    after = assess(c, 5, 30, None, Policy(), hints[pump])
    (f,) = [f for f in after.factors if f.name == "policy_violations"]
    assert f.points == 15 and "2 conversation(s)" in f.detail
    assert after.score == before.score + 15
