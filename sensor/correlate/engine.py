"""The correlator without I/O: snapshots in, device records and events out.

``Correlator.ingest`` keeps the latest snapshot of every switch (a new snapshot
replaces what that switch said before), rebuilds the view, updates the tracker,
classifies, scores and decides which retained records must be published again.
The stage (``stage.py``) wraps it with the queues and the state file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from collectors.facts import LldpNeighbor, Snapshot
from sensor.classify.classifier import Classifier, FlowHints
from sensor.classify.oui import OuiRegistry, registry
from sensor.classify.risk import Policy
from sensor.classify.rules import Rules, load_rules
from sensor.config import Config
from sensor.correlate.macs import switch_identity
from sensor.correlate.model import DeviceEvent, DeviceRecord
from sensor.correlate.records import RecordBuilder, signature, ts
from sensor.correlate.tracker import Tracker, TrackerSettings, TrackerState
from sensor.correlate.view import Settings, View, build_view
from sensor.evidence.controls import ControlsContext, apply_controls
from sensor.evidence.enrich import Evidence, enrich
from sensor.evidence.model import RegisterSummary


@dataclass
class Output:
    devices: list[tuple[str, DeviceRecord | None]] = field(default_factory=list)  # None: forget (empty retained)
    events: list[DeviceEvent] = field(default_factory=list)
    records: dict[str, DeviceRecord] = field(default_factory=dict)  # every current record
    full_refresh: bool = False
    register: RegisterSummary | None = None  # to publish (retained) when it changed; None: unchanged or no register


@dataclass(frozen=True)
class CorrelatorConfig:
    view: Settings = field(default_factory=Settings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    policy: Policy = field(default_factory=Policy)
    full_refresh: float = 86400.0
    last_seen_refresh: float = 3600.0


def settings_from(cfg: Config) -> CorrelatorConfig:
    c = cfg.correlation
    return CorrelatorConfig(
        view=Settings(uplinks={s.name: frozenset(s.uplinks) for s in cfg.switch if s.uplinks},
                      switch_hosts={s.name: s.host for s in cfg.switch},
                      uplink_mac_threshold=c.uplink_mac_threshold),
        tracker=TrackerSettings(absence=float(c.absence), intervals={s.name: float(s.interval) for s in cfg.switch},
                                flap_window=float(c.flap_window), forget_after=float(c.forget_after)),
        policy=_risk_policy(cfg),
        full_refresh=float(c.full_refresh),
        last_seen_refresh=float(c.last_seen_refresh),
    )


def _risk_policy(cfg: Config) -> Policy:
    # The zones say where classes belong (workstations, expected VLANs); one place for both.
    from sensor.policy.zones import Zoning

    zoning = Zoning.from_config(cfg.policy, cfg.flows.internal if cfg.flows else ())
    return Policy(workstation_classes=zoning.workstation_classes, expected_vlans=zoning.expected_vlans())


def controls_context(cfg: Config, rules: Rules) -> ControlsContext:
    """The zoning and criticalities the controls need; the stage adds the policy and monitoring."""
    from sensor.policy.zones import Zoning

    return ControlsContext(zoning=Zoning.from_config(cfg.policy, cfg.flows.internal if cfg.flows else ()),
                           criticality={name: c.criticality for name, c in rules.classes.items()})


def classifier_from(cfg: Config, rules: Rules | None = None) -> Classifier:
    rules = rules if rules is not None else load_rules(cfg.classification.rules_file)
    return Classifier(rules, cfg.classification.override)


class Correlator:
    def __init__(self, settings: CorrelatorConfig, classifier: Classifier, state: TrackerState | None = None,
                 oui: OuiRegistry | None = None, evidence: Evidence | None = None) -> None:
        self.settings = settings
        self.latest: dict[str, Snapshot] = {}
        self.tracker = Tracker(state, settings.tracker)
        self.builder = RecordBuilder(classifier, settings.policy, oui if oui is not None else registry())
        self.view: View | None = None
        self.evidence = evidence
        self._register_sig: str | None = None
        self.controls: ControlsContext | None = None  # None: records without controls (benchmarks, tests)
        self.classification_cpu = 0.0  # thread CPU seconds spent building records (classify, risk)

    @classmethod
    def from_config(cls, cfg: Config, state: TrackerState | None = None,
                    evidence: Evidence | None = None) -> Correlator:
        corr = cls(settings_from(cfg), classifier_from(cfg), state, evidence=evidence)
        corr.controls = controls_context(cfg, corr.builder.classifier.rules)
        return corr

    @property
    def state(self) -> TrackerState:
        return self.tracker.state

    def ingest(self, batch: Iterable[Snapshot], now: float,
               flows: Mapping[str, FlowHints] | None = None) -> Output:
        snaps = list(batch)
        for s in sorted(snaps, key=lambda s: s.taken_at):
            cur = self.latest.get(s.switch)
            if cur is None or s.taken_at >= cur.taken_at:
                self.latest[s.switch] = s
        # The last view goes before the next is built: two views of a campus at once were ~45 MB.
        heard = self.view.neighbours if self.view is not None else {}
        self.view = None
        view = build_view(self.latest, self.settings.view)
        res = self.tracker.update(view, snaps)
        self._keep_neighbours(view, heard)
        # The records need the ports and neighbours only: the candidates, MACs and addresses of every
        # device (~30 MB for 50,000 devices) go before the records are built, not after.
        view = dataclasses.replace(view, candidates={}, observed={}, ips={})
        forgotten = self.tracker.forget(now)
        self.builder.switch_ids = self._switch_ids(view)
        started = time.thread_time()
        records = self.builder.build(self.tracker, view, flows)
        self.classification_cpu += time.thread_time() - started
        summary = None
        if self.evidence is not None:
            records, summary = enrich(records, self.evidence, now)
        if self.controls is not None:
            records = apply_controls(records, self.controls, now, in_place=True)
        self.view = view  # kept between correlations for the switches' port roles
        st = self.state
        out = Output(records=records)
        out.full_refresh = now - st.last_full_refresh >= self.settings.full_refresh
        if out.full_refresh:
            st.last_full_refresh = now
        if summary is not None:
            sig = register_signature(summary)
            if out.full_refresh or sig != self._register_sig:
                self._register_sig = sig
                out.register = summary
        for mac in sorted(records):
            rec = records[mac]
            sig = signature(rec)
            dev = st.devices[mac]
            # last_seen alone does not make a record new, but it may not lag by more than the refresh.
            stale = dev.last_seen - dev.published_seen >= self.settings.last_seen_refresh
            if out.full_refresh or sig != dev.published or stale:
                dev.published = sig
                dev.published_seen = dev.last_seen
                out.devices.append((mac, rec))
        out.devices.extend((mac, None) for mac in forgotten)
        out.events = self.builder.events(res.events, records)
        # The empty retained message clears the record; this event says so, with a seq and a time.
        out.events += [DeviceEvent(event="forgotten", mac=mac, at=ts(now),
                                   detail=f"gone for {self.settings.tracker.forget_after / 86400:g} days: "
                                          f"its retained record is cleared")
                       for mac in forgotten]
        return out

    def _keep_neighbours(self, view: View, heard: Mapping[str, LldpNeighbor]) -> None:
        """A present device that no switch shows right now keeps the LLDP neighbour it had.

        A device moving between switches is, for a while, on neither: its old switch was polled after
        it left, its new switch not yet. Its attachment stands until it is seen again or disappears;
        so does what it said of itself, or its record went out once without it (and its class's
        confidence without the LLDP clues) and once more when the new switch reported.
        """
        devices = self.state.devices
        for mac, n in heard.items():
            if mac in view.neighbours or mac in view.candidates:
                continue
            dev = devices.get(mac)
            if dev is not None and dev.present:
                view.neighbours[mac] = n

    def _switch_ids(self, view: View) -> dict[str, str]:
        """Every switch's globally unique id (README "Several sensors that see the same device").

        Its LLDP chassis id first: its own (SNMP LLDP-MIB, CLI, NETCONF), else as its polled neighbours
        see it (by LLDP the same value), else the last one known; only then its bridge (base) MAC. The
        chassis id is what every method and every neighbour can read, the bridge MAC only some.
        """
        known, chassis = self.state.switch_ids, self.state.chassis_ids
        for name, snap in self.latest.items():
            own = switch_identity(snap.system.lldp_chassis_id if snap.system is not None else None)
            if (cid := own or view.seen_as.get(name)) is not None:
                chassis[name] = cid
            sid = chassis.get(name) or switch_identity(snap.system.base_mac if snap.system is not None else None)
            if sid is not None:
                known[name] = sid
        # Bounded by the configuration: a switch no longer configured nor polled loses its id.
        current = set(self.latest) | set(self.settings.view.switch_hosts)
        for ids in (known, chassis):
            for name in [n for n in ids if n not in current]:
                del ids[name]
        return dict(known)


_ENC = msgspec.json.Encoder()


def register_signature(s: RegisterSummary) -> str:
    """What must change for the register summary to be published again: not the last_seen times alone."""
    stable = msgspec.structs.replace(
        s, matches=tuple(msgspec.structs.replace(m, last_seen=m.last_seen.replace(year=2000)) for m in s.matches),
        shadow_devices=tuple(msgspec.structs.replace(d, last_seen=d.first_seen) for d in s.shadow_devices))
    return hashlib.blake2b(_ENC.encode(stable), digest_size=12).hexdigest()
