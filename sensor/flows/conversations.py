"""Per-device conversations: one window's 5-tuple table, seen from each end device.

Pure code, no I/O. Each distinct (src, dst, sport, dport, proto) of the window is
resolved once: which end(s) are devices (the directory's MAC knowledge, else an
address inside the internal prefixes), which side offers the service (a known
port, else a privileged one, else the lower), and so which way the conversation
goes. A device's conversation is keyed by (peer, service port, protocol,
direction): ``out`` when the device opened it, ``in`` when the peer did. Bytes and
packets are split into what the device sent and received.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

import msgspec

from collectors.flows.records import ip_text, mac_text
from collectors.flows.table import FlowTable
from sensor.ipnets import Network, in_networks, networks

if TYPE_CHECKING:
    from sensor.flows.summary import Summary

# Ports that name a service even above 1024 (clinical ones first).
KNOWN_SERVICES: frozenset[int] = frozenset({
    104, 11112, 2575, 2761, 2762, 24105, 24005, 3200,          # DICOM, HL7 MLLP, IntelliVue, ...
    20, 21, 22, 23, 25, 53, 67, 68, 69, 80, 88, 110, 123, 135, 137, 138, 139, 143, 161, 162, 389, 443,
    445, 514, 636, 853, 993, 995, 1433, 1521, 1883, 3306, 3389, 5060, 5061, 5432, 5900, 5901, 5902, 5903,
    8080, 8443, 8883,
})  # fmt: skip
PORT_PROTOS = frozenset({6, 17, 132, 33})


class DeviceDirectory(Protocol):
    """What the correlator and classifier know, as the flow aggregator needs it."""

    def resolve(self, ip: str) -> str | None:
        """The MAC of the end device that currently has ``ip``, or None."""
        ...

    def is_medical(self, mac: str | None, ip: str) -> bool:
        """Whether the device (by MAC when known, else address) is a medical device."""
        ...

    def add_window(self, conversations: Iterable[DeviceConversations]) -> None:
        """One window's conversations, so the ports a device serves and uses feed classification."""
        ...

    def add_violations(self, macs: Iterable[str]) -> None:
        """Devices in policy_violation events (one MAC per event and end), so they feed the risk score."""
        ...

    def set_monitoring(self, summaries: Mapping[str, Summary]) -> None:
        """What monitoring saw per device (after each window), for the devices' controls."""
        ...


class StaticDirectory:
    """A directory from configuration alone: addresses -> MACs given, medical prefixes."""

    def __init__(self, macs: dict[str, str] | None = None, medical: Iterable[str] = (),
                 medical_macs: Iterable[str] = ()) -> None:
        self.macs = dict(macs or {})
        self.medical: list[Network] = networks(medical)
        self.medical_macs = {m.lower() for m in medical_macs}

    def resolve(self, ip: str) -> str | None:
        return self.macs.get(ip)

    def is_medical(self, mac: str | None, ip: str) -> bool:
        if mac is not None and mac in self.medical_macs:
            return True
        return in_networks(ip, self.medical)

    def add_window(self, conversations: Iterable[DeviceConversations]) -> None:
        """Nothing to feed back: configuration alone knows no classes."""

    def add_violations(self, macs: Iterable[str]) -> None:
        """Nothing to feed back: configuration alone keeps no risk."""

    def set_monitoring(self, summaries: Mapping[str, Summary]) -> None:
        """Nothing to feed back: configuration alone keeps no device records."""


class Conversation(msgspec.Struct, frozen=True, array_like=True):
    """Compact on the wire: [peer, port, proto, dir, bytes_out, bytes_in, packets_out, packets_in, flows]."""

    peer: str
    port: int
    proto: int
    dir: str  # "out": the device opened it; "in": the peer did
    bytes_out: int
    bytes_in: int
    packets_out: int
    packets_in: int
    flows: int


class DeviceConversations(msgspec.Struct, frozen=True, kw_only=True):
    device: str  # MAC when known, else the address
    mac: str | None
    ip: str
    window_start: float
    window_end: float
    bytes_out: int
    bytes_in: int
    conversations: list[Conversation]
    peer_macs: dict[str, str] = msgspec.field(default_factory=dict)  # from flow L2 fields, when exported


def _port_rank(port: int) -> int:
    if port in KNOWN_SERVICES:
        return 0
    if 0 < port < 1024:
        return 1
    if port < 49152:
        return 2
    return 3


def service_side(sport: int, dport: int, proto: int) -> tuple[bool, int]:
    """(True if the source is the responder, service port)."""
    if proto not in PORT_PROTOS:
        return False, 0
    rs, rd = _port_rank(sport), _port_rank(dport)
    if rs < rd or (rs == rd and sport < dport):
        return True, sport
    return False, dport


class Aggregator:
    """Resolves a window's table into per-device conversations (bounded)."""

    def __init__(self, directory: DeviceDirectory, internal: Iterable[str], *, max_devices: int = 20_000,
                 max_peers_per_device: int = 2_000) -> None:
        self.directory = directory
        self.internal: list[Network] = networks(internal)
        self.max_devices = max_devices
        self.max_peers = max_peers_per_device
        self.dropped = 0
        self._internal_cache: dict[bytes, bool] = {}

    def is_internal(self, raw: bytes) -> bool:
        v = self._internal_cache.get(raw)
        if v is None:
            try:
                addr = ipaddress.ip_address(raw)
            except ValueError:
                return False
            v = any(addr in n for n in self.internal)
            if len(self._internal_cache) < 100_000:
                self._internal_cache[raw] = v
        return v

    def is_internal_text(self, ip: str) -> bool:
        try:
            return self.is_internal(ipaddress.ip_address(ip).packed)
        except ValueError:
            return False

    def summarize(self, table: FlowTable, start: float, end: float) -> list[DeviceConversations]:
        text: dict[bytes, str] = {}
        who: dict[bytes, tuple[bool, str | None]] = {}

        def ident(raw: bytes) -> tuple[bool, str | None]:
            r = who.get(raw)
            if r is None:
                ip = text[raw] = ip_text(raw)
                mac = self.directory.resolve(ip)
                r = who[raw] = (mac is not None or self.is_internal(raw), mac)
            return r

        per_dev: dict[bytes, dict[tuple[str, int, int, str], list[int]]] = {}
        peer_macs: dict[bytes, dict[str, str]] = {}
        for key, (nbytes, npkts, nrec) in table.rows.items():
            src, dst, sport, dport, proto = key
            if len(src) not in (4, 16) or len(dst) not in (4, 16):
                continue
            src_responds, port = service_side(sport, dport, proto)
            macs = table.l2.get(key)
            for dev, peer, sent in ((src, dst, True), (dst, src, False)):
                is_dev, _mac = ident(dev)
                if not is_dev:
                    continue
                ident(peer)
                dev_responds = src_responds if sent else not src_responds
                direction = "in" if dev_responds else "out"
                convs = per_dev.get(dev)
                if convs is None:
                    if len(per_dev) >= self.max_devices:
                        self.dropped += 1
                        continue
                    convs = per_dev[dev] = {}
                ck = (text[peer], port, proto, direction)
                acc = convs.get(ck)
                if acc is None:
                    if len(convs) >= self.max_peers:
                        self.dropped += 1
                        continue
                    acc = convs[ck] = [0, 0, 0, 0, 0]
                if sent:
                    acc[0] += nbytes
                    acc[2] += npkts
                else:
                    acc[1] += nbytes
                    acc[3] += npkts
                acc[4] += nrec
                if macs is not None:
                    peer_mac = macs[1] if sent else macs[0]
                    if isinstance(peer_mac, bytes) and len(peer_mac) == 6:
                        peer_macs.setdefault(dev, {})[text[peer]] = mac_text(peer_mac)
        out = []
        for dev, convs in per_dev.items():
            mac = who[dev][1]
            ip = text[dev]
            items = [Conversation(peer, port, proto, d, *acc) for (peer, port, proto, d), acc in convs.items()]
            items.sort(key=lambda c: (-(c.bytes_out + c.bytes_in), c.peer, c.port, c.proto, c.dir))
            out.append(DeviceConversations(
                device=mac or ip, mac=mac, ip=ip, window_start=start, window_end=end,
                bytes_out=sum(c.bytes_out for c in items), bytes_in=sum(c.bytes_in for c in items),
                conversations=items, peer_macs=peer_macs.get(dev, {}),
            ))
        out.sort(key=lambda d: d.device)
        return out
