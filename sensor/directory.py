"""What the correlator knows about devices, shared with the flow collector, and back.

Flows carry addresses; the correlator knows which MAC (device) holds an address and
whether it is a medical device. Flows in turn say which ports a device serves and
uses, which the classifier takes as evidence (DICOM, HL7, ...). Both directions go
through this one object, which both stages reach from the supervisor. It holds plain
dictionaries replaced whole, so readers never see a half-updated view (one event
loop, no locks needed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from sensor.classify.classifier import FlowHints
from sensor.ipnets import Network, in_networks, networks

if TYPE_CHECKING:
    from sensor.correlate.model import DeviceRecord
    from sensor.flows.model import DeviceConversations
    from sensor.flows.summary import Summary



class DeviceDirectory:
    """IP -> MAC and "is it medical" for flows; per-MAC FlowHints for the classifier.

    The one directory type: the supervisor's is filled by the correlator; one made from
    configuration alone (``macs``, ``medical_macs``, ``switches``: a flow source without a
    correlator, ``sensor flows``, tests) answers from what it was given.
    """

    def __init__(self, medical_prefixes: Iterable[str] = (), internal_prefixes: Iterable[str] = (), *,
                 macs: Mapping[str, str] | None = None, medical_macs: Iterable[str] = (),
                 switches: Mapping[str, str] | None = None) -> None:
        self._ip_to_mac: dict[str, str] = dict(macs or {})
        self._mac_to_switch: dict[str, str] = dict(switches or {})  # MAC -> access switch name
        self._medical_macs: frozenset[str] = frozenset(m.lower() for m in medical_macs)
        self._medical_nets: list[Network] = networks(medical_prefixes)
        self._internal: list[Network] = networks(internal_prefixes)
        self._hints: dict[str, FlowHints] = {}
        self._monitoring: Mapping[str, Summary] = {}
        self.monitoring_set = False

    # -- from the correlator ------------------------------------------------
    def update_from_records(self, records: Mapping[str, DeviceRecord]) -> None:
        """Take the current device records: their addresses and medical classification."""
        ip_to_mac: dict[str, str] = {}
        mac_to_switch: dict[str, str] = {}
        medical: set[str] = set()
        for mac, rec in records.items():
            if not rec.present:
                continue
            if rec.attachment is not None:
                mac_to_switch[mac] = rec.attachment.switch
            for addr in rec.ips:
                ip_to_mac[addr.ip] = mac
            if rec.classification.medical:
                medical.add(mac)
        self._ip_to_mac = ip_to_mac
        self._mac_to_switch = mac_to_switch
        self._medical_macs = frozenset(medical)

    def flow_hints(self) -> Mapping[str, FlowHints]:
        return self._hints

    def monitoring(self) -> Mapping[str, Summary]:
        """Per MAC, what flow monitoring saw (the flow source replaces it after every window)."""
        return self._monitoring

    def set_monitoring(self, summaries: Mapping[str, Summary]) -> None:
        self._monitoring = summaries
        self.monitoring_set = True

    # -- for the flow collector ----------------------------------------------
    def resolve(self, ip: str) -> str | None:
        return self._ip_to_mac.get(ip)

    def is_medical(self, mac: str | None, ip: str) -> bool:
        if mac is not None and mac in self._medical_macs:
            return True
        return in_networks(ip, self._medical_nets)

    def access_switch(self, mac: str) -> str | None:
        return self._mac_to_switch.get(mac)

    # -- from the flow collector ---------------------------------------------
    def add_window(self, conversations: Iterable[DeviceConversations]) -> None:
        """Fold one window's conversations into the per-device hints (ports only grow)."""
        hints = dict(self._hints)
        for dc in conversations:
            if dc.mac is None:
                continue
            old = hints.get(dc.mac, FlowHints())
            serves, uses = set(old.serves), set(old.uses)
            peers = {c.peer for c in dc.conversations}
            for c in dc.conversations:
                (serves if c.dir == "in" else uses).add(c.port)
            external = sum(1 for p in peers if self._internal and not in_networks(p, self._internal))
            hints[dc.mac] = FlowHints(
                serves=frozenset(serves),
                uses=frozenset(uses),
                peers=max(old.peers, len(peers)),
                unexpected_peers=old.unexpected_peers,
                external_peers=max(old.external_peers, external),
                policy_violations=old.policy_violations,
            )
        self._hints = hints

    def add_violations(self, macs: Iterable[str]) -> None:
        """Count policy violations per device (events are already rate-limited by the watcher)."""
        hints = dict(self._hints)
        for mac in macs:
            old = hints.get(mac, FlowHints())
            hints[mac] = FlowHints(serves=old.serves, uses=old.uses, peers=old.peers,
                                   unexpected_peers=old.unexpected_peers, external_peers=old.external_peers,
                                   policy_violations=old.policy_violations + 1)
        self._hints = hints
