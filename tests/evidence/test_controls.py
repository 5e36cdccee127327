"""Compensating controls per device: zone, approved and exported policy, allowed peers, monitoring, ownership,
and the risk factors they give. The policy is proposed and approved from real IPFIX windows (tests/policy)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sensor.config import parse_config
from sensor.correlate.model import Attachment, Classification, DeviceRecord, IpAddress, Risk, RiskFactor
from sensor.correlate.stage import load_policy_info
from sensor.evidence.controls import ControlsContext, apply_controls
from sensor.evidence.model import AdvisoryMatch, Cve, RegisterFields
from sensor.flows.events import Peer, PolicyViolationEvent
from sensor.flows.monitor import Monitor, load_monitor, save_monitor
from sensor.policy.zones import Zoning
from tests.policy import scenario as sc
from tests.policy.test_watch import T0, approved_file, source

PUMP_IP, PUMP = "10.30.0.22", "58:42:e4:00:00:22"
DT = datetime.fromtimestamp(T0, UTC)


def pump(**kw: object) -> DeviceRecord:
    return DeviceRecord(
        mac=PUMP, present=True, vendor="Baxter", first_seen=DT, last_seen=DT,
        attachment=Attachment(switch="access-1", port="Gi1/0/22", ifindex=22, vlan=30, confidence=0.9),
        ips=(IpAddress(ip=PUMP_IP, version=4, router="dist", first_seen=DT, last_seen=DT),),
        classification=Classification(device_class="infusion_pump", label="Infusion pump", medical=True),
        risk=Risk(score=60, level="high", factors=(RiskFactor(name="exposure", points=60, detail="x"),)),
        **kw)  # type: ignore[arg-type]


def config(tmp_path: Path) -> str:
    path = tmp_path / "sensor.toml"
    path.write_text(f'[sensor]\nsite = "lab"\nstate_dir = "{tmp_path}"\n[flows]\nallowed_exporters = '
                    f'["127.0.0.1"]\ninternal = ["10.0.0.0/8"]\n'
                    f'[policy]\nfile = "{tmp_path / "approved.toml"}"\n')
    return str(path)


def test_controls_follow_policy_export_monitoring_and_register(tmp_path: Path) -> None:
    cfg_path = config(tmp_path)
    cfg = parse_config(Path(cfg_path).read_text(), check_files=False)
    ctx = ControlsContext(zoning=Zoning.from_config(cfg.policy, sc.INTERNAL), criticality={"infusion_pump": 5})
    # No policy, no flows: nothing lowers the score.
    (rec,) = apply_controls({PUMP: pump()}, ctx, T0).values()
    assert rec.controls is not None
    assert rec.controls.zone == "medication_delivery" and rec.controls.segment == "VLAN 30"
    assert rec.controls.segmentation.policy == "none" and not rec.controls.monitoring.active
    assert not rec.controls.ownership.registered and rec.risk.score == 60

    # Approved, not exported: covered, but no reduction, and the factor says why.
    approved_file(tmp_path / "approved.toml")
    ctx.policy = load_policy_info(cfg)
    (rec,) = apply_controls({PUMP: pump()}, ctx, T0).values()
    assert rec.controls is not None
    seg = rec.controls.segmentation
    assert seg.policy == "approved" and seg.zone_protected and seg.rules >= 1 and seg.exported_at is None
    assert any("tcp/2575" in p and p.startswith("to ") for p in rec.controls.allowed_peers)
    (f,) = [f for f in rec.risk.factors if f.name == "segmentation_not_enforced"]
    assert f.points == 0 and "never exported" in f.detail and rec.risk.score == 60

    # `sensor policy export` records the ruleset for this hash: segmentation is enforced from then on.
    out = subprocess.run([str(Path(sys.executable).with_name("sensor")), "policy", "export", "-c", cfg_path, "-f", "nftables",
                          "-o", str(tmp_path / "rules.nft")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ctx.policy = load_policy_info(cfg)
    assert ctx.policy is not None and ctx.policy.export is not None

    # Monitoring from real windows through the flow source: flows in the last day, a baseline past learning,
    # persisted and read back as the correlator stage does after a restart.
    src = source(tmp_path)
    mon = Monitor()
    for i in range(8):
        start = T0 + i * 300
        convs, events = src.window(sc.table(sc.window_records(i)), start, start + 300)
        lp = 1200.0
        mon.add_window(convs, events, start + 300,
                       {dc.device: (b.first_seen, b.first_seen + lp) for dc in convs
                        if (b := src.baselines.state.devices.get(dc.device)) is not None}, sc.directory().resolve)
    save_monitor(mon.state, tmp_path)
    now = T0 + 8 * 300
    ctx.monitoring = Monitor(load_monitor(tmp_path)).summaries(now)
    adv = AdvisoryMatch(advisory="ICSMA-20-170-05", title="Baxter pumps", confidence="vendor+product",
                        basis=("vendor",), cves=(Cve(id="CVE-2020-12040", cvss=9.8),), max_cvss=9.8,
                        remediations=("mitigation",))
    reg = RegisterFields(asset_tag="BIO-0042", basis="mac", owner="biomed:ana", department="ICU")
    (rec,) = apply_controls({PUMP: pump(advisories=(adv,), register=reg)}, ctx, now).values()
    ctl = rec.controls
    assert ctl is not None
    assert ctl.segmentation.policy == "exported" and ctl.segmentation.exported_format == "nftables"
    assert ctl.monitoring.active and ctl.monitoring.flows_24h > 0 and ctl.monitoring.learning is False
    assert ctl.monitoring.baseline_age_days == round(2400 / 86400, 2)
    assert ctl.ownership.registered and ctl.ownership.owner == "biomed:ana"
    names = {f.name: f for f in rec.risk.factors}
    assert names["advisories_without_fix"].points == 20 and "ICSMA-20-170-05" in names["advisories_without_fix"].detail
    assert "CVSS up to 9.8" in names["advisories_without_fix"].detail
    assert names["enforced_segmentation"].points == -20 and "nftables" in names["enforced_segmentation"].detail
    assert names["active_monitoring"].points == -10
    assert rec.risk.score == 60 + 20 - 20 - 10

    # An advisory with a vendor fix does not count; a changed policy (another hash) is not the exported one.
    fixed = AdvisoryMatch(advisory="X", title="t", confidence="vendor+product", basis=(), remediations=("vendor_fix",))
    (rec,) = apply_controls({PUMP: pump(advisories=(fixed,))}, ctx, now).values()
    assert "advisories_without_fix" not in {f.name for f in rec.risk.factors}
    p = tmp_path / "approved.toml"
    p.write_text(p.read_text().replace('\nstate = "approved"', '\nstate = "rejected"', 1))
    ctx.policy = load_policy_info(cfg)
    (rec,) = apply_controls({PUMP: pump()}, ctx, now).values()
    assert rec.controls is not None and rec.controls.segmentation.policy == "approved"


def test_monitor_counts_events_for_both_ends_and_forgets_after_30_days() -> None:
    mon = Monitor(max_events=3)
    ev = PolicyViolationEvent(
        event="policy_violation", device=PUMP, mac=PUMP, ip="10.30.0.22",
        peer=Peer(ip="10.40.0.11", port=23, proto=6, dir="in"), zone="medication_delivery",
        peer_zone="clinical_workstations", service="tcp/23", application="telnet", bytes=0, packets=0,
        policy_version=1, policy_hash="h", rule=None, window_start=datetime.fromtimestamp(T0, UTC), window_end=datetime.fromtimestamp(T0, UTC))
    for i in range(5):
        mon.add_window([], [ev], T0 + i, resolve=sc.directory().resolve)
    s = mon.summaries(T0 + 10)
    assert s[PUMP].violations_30d == 3 and s["3c:52:82:00:00:11"].violations_30d == 3
    assert mon.state.dropped_events == 4
    mon.expire(T0 + 31 * 86400)
    assert mon.summaries(T0 + 31 * 86400) == {}


def test_flow_counts_alone_do_not_republish_a_record() -> None:
    from sensor.correlate.records import signature
    from sensor.flows.summary import Summary

    ctx = ControlsContext(zoning=Zoning.from_config(parse_config('[sensor]\nsite = "x"\n', check_files=False).policy,
                                                    sc.INTERNAL))

    def rec(flows: int, learning_until: float) -> DeviceRecord:
        ctx.monitoring = {PUMP: Summary(flows_24h=flows, windows_24h=flows, last_flow=T0 + flows,
                                        baseline_since=T0 - 10 * 86400, learning_until=learning_until)}
        return apply_controls({PUMP: pump()}, ctx, T0 + 100)[PUMP]

    assert signature(rec(5, T0 - 86400)) == signature(rec(9, T0 - 86400))  # every window moves these
    assert signature(rec(5, T0 - 86400)) != signature(rec(5, T0 + 86400))  # learning again: a new record
    assert signature(rec(5, T0 - 86400)) != signature(rec(0, T0 - 86400))  # monitoring stopped
