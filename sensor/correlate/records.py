"""Device records and events from the tracker's state, the current view and the classifier.

Pure: no I/O. The classifier's decision is remembered in the tracker state
(``device_class``/``class_score``) so that the next decision can refuse to flip on
one weak clue; risk needs every device's class first (a medical device sharing a
VLAN with workstations is a flat network), so records are built in two passes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import msgspec

from sensor.classify.classifier import Classifier, Decision, FlowHints
from sensor.classify.oui import OuiRegistry, Vendor
from sensor.classify.risk import Policy, VlanPeers, assess
from sensor.correlate.macs import is_locally_administered
from sensor.correlate.model import Attachment, DeviceEvent, DeviceRecord, IpAddress, Neighbour, Risk
from sensor.correlate.tracker import AttState, Change, DeviceState, Tracker
from sensor.correlate.view import View


@functools.lru_cache(maxsize=4096)
def ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def attachment(a: AttState | None, switch_ids: Mapping[str, str] | None = None) -> Attachment | None:
    if a is None:
        return None
    return Attachment(switch=a.switch, switch_id=(switch_ids or {}).get(a.switch), port=a.port,
                      ifindex=a.ifindex, vlan=a.vlan, confidence=a.confidence,
                      evidence=a.evidence, flags=a.flags, first_seen=ts(a.first_seen), last_seen=ts(a.last_seen))


def _ip_version(ip: str) -> int:
    return 6 if ":" in ip else 4


class _Members(list[str]):
    """MACs in order, with a set for membership tests."""

    def __init__(self, macs: Iterable[str]) -> None:
        super().__init__(macs)
        self._set = frozenset(self)

    def __contains__(self, mac: object) -> bool:
        return mac in self._set


_NO_PEERS: tuple[_Members, _Members] = (_Members(()), _Members(()))


class RecordBuilder:
    def __init__(self, classifier: Classifier, policy: Policy, registry: OuiRegistry) -> None:
        self.classifier = classifier
        self.policy = policy
        self.registry = registry
        self._vendor: dict[str, Vendor | None] = {}
        # switch name -> its switch_id (bridge MAC or LLDP chassis id): its identity beyond this sensor's config
        self.switch_ids: dict[str, str] = {}

    def vendor(self, mac: str) -> Vendor | None:
        key = mac[:14]  # covers /36 (9 hex digits)
        if key not in self._vendor:
            self._vendor[key] = self.registry.lookup(mac)
        return self._vendor[key]

    def build(self, tracker: Tracker, view: View, flows: Mapping[str, FlowHints] | None = None
              ) -> dict[str, DeviceRecord]:
        flows = flows or {}
        st = tracker.state
        decisions: dict[str, Decision] = {}
        # Most devices differ only by MAC: decide once per (vendor, memory) when nothing else speaks.
        cache: dict[tuple[str | None, str | None, float], Decision] = {}
        for mac, dev in st.devices.items():
            prev = (dev.device_class, dev.class_score) if dev.device_class else None
            vendor = self.vendor(mac)
            n, fl = view.neighbours.get(mac), flows.get(mac)
            if n is None and fl is None and not self.classifier.has_override(mac):
                key = (vendor.name if vendor else None, dev.device_class, dev.class_score)
                d = cache.get(key) or cache.setdefault(key, self.classifier.classify(mac, vendor, None, None, prev))
            else:
                d = self.classifier.classify(mac, vendor, n, fl, prev)
            decisions[mac] = d
            dev.device_class, dev.class_score = d.classification.device_class, d.score
        peers = self._vlan_peers(st.devices, decisions)
        classes = self.classifier.rules.classes
        out: dict[str, DeviceRecord] = {}
        risk_cache: dict[tuple[int, int | None, VlanPeers | None], Risk] = {}
        for mac, dev in st.devices.items():
            d = decisions[mac]
            c = d.classification
            vlan = dev.attachment.vlan if dev.attachment is not None else None
            vp = None
            if dev.present and vlan is not None:
                ws, unk = peers.get(vlan, _NO_PEERS)
                vp = VlanPeers(workstations=len(ws) - (mac in ws),
                               workstation_examples=tuple(m for m in ws[:4] if m != mac)[:3],
                               unknown=len(unk) - (mac in unk),
                               unknown_examples=tuple(m for m in unk[:4] if m != mac)[:3])
            fl = flows.get(mac)
            rkey = (id(c), vlan, vp)
            risk = risk_cache.get(rkey) if fl is None else None
            if risk is None:
                risk = assess(c, classes[c.device_class].criticality if c.device_class in classes else 2, vlan, vp,
                              self.policy, fl, self.classifier.rules.cleartext)
                if fl is None:
                    risk_cache[rkey] = risk
            out[mac] = self.record(tracker, dev, view, d, risk)
        return out

    def _vlan_peers(self, devices: Mapping[str, DeviceState], decisions: Mapping[str, Decision]
                    ) -> dict[int, tuple[_Members, _Members]]:
        """VLAN -> (workstations, unclassified non-medical devices) present on it, MACs in order."""
        ws: dict[int, list[str]] = {}
        unk: dict[int, list[str]] = {}
        for mac in sorted(devices):
            dev = devices[mac]
            if not dev.present or dev.attachment is None or dev.attachment.vlan is None:
                continue
            c = decisions[mac].classification
            if c.device_class in self.policy.workstation_classes:
                ws.setdefault(dev.attachment.vlan, []).append(mac)
            elif c.device_class == "unknown" and not c.medical:
                unk.setdefault(dev.attachment.vlan, []).append(mac)
        return {v: (_Members(ws.get(v, ())), _Members(unk.get(v, ()))) for v in set(ws) | set(unk)}

    def record(self, tracker: Tracker, dev: DeviceState, view: View, d: Decision, risk: Risk) -> DeviceRecord:
        mac = dev.mac
        v = self.vendor(mac)
        ips = []
        for ip in tracker.ips_of(mac):
            b = tracker.state.bindings[ip]
            ips.append(IpAddress(ip=ip, version=_ip_version(ip), router=b.router,  # type: ignore[arg-type]
                                 first_seen=ts(b.first_seen), last_seen=ts(b.last_seen)))
        n = view.neighbours.get(mac)
        flags: list[str] = []
        la = is_locally_administered(mac)
        if la:
            flags.append("locally administered (randomised or virtual) MAC")
        if dev.attachment is not None:
            flags.extend(dev.attachment.flags)
        if dev.flapping_until is not None:
            flags.append("flapping")
        if not dev.present:
            flags.append("disappeared")
        return DeviceRecord(
            mac=mac, present=dev.present, vendor=v.name if v else None, oui=v.block if v else None,
            vendor_note=d.vendor_note, locally_administered=la, first_seen=ts(dev.first_seen),
            last_seen=ts(dev.last_seen), attachment=attachment(dev.attachment, self.switch_ids), ips=tuple(ips),
            neighbour=Neighbour(protocol=n.protocol, sys_name=n.sys_name, sys_desc=n.sys_desc,
                                capabilities=n.capabilities, platform=n.platform, med_class=n.med_class,
                                manufacturer=n.med_manufacturer, model=n.med_model, hardware=n.med_hardware,
                                firmware=n.med_firmware, software=n.med_software) if n is not None else None,
            classification=d.classification, risk=risk,
            flags=tuple(flags),
        )

    def events(self, changes: Iterable[Change], records: Mapping[str, DeviceRecord]) -> list[DeviceEvent]:
        out = []
        for ch in changes:
            rec = records.get(ch.mac)
            out.append(DeviceEvent(
                event=ch.kind, mac=ch.mac, at=ts(ch.at), detail=ch.detail,  # type: ignore[arg-type]
                attachment=attachment(ch.attachment, self.switch_ids),
                previous_attachment=attachment(ch.previous, self.switch_ids),
                ips=ch.ips, previous_ips=ch.previous_ips,
                vendor=rec.vendor if rec else None,
                device_class=rec.classification.device_class if rec else None))
        return out


_VOLATILE = msgspec.json.Encoder()


def signature(rec: DeviceRecord) -> str:
    """What must change for a record to be published again: everything but the last_seen times."""
    att = rec.attachment
    ctl = rec.controls
    if ctl is not None:
        # Flow counts and the baseline's age move every window; whether monitoring is active does not.
        ctl = msgspec.structs.replace(ctl, monitoring=msgspec.structs.replace(
            ctl.monitoring, flows_24h=0, windows_24h=0, last_flow=None, baseline_age_days=None))
    stable = msgspec.structs.replace(
        rec, last_seen=rec.first_seen, controls=ctl,
        attachment=msgspec.structs.replace(att, last_seen=None) if att is not None else None,
        ips=tuple(msgspec.structs.replace(i, last_seen=i.first_seen) for i in rec.ips),
    )
    return hashlib.blake2b(_VOLATILE.encode(stable), digest_size=12).hexdigest()
