"""Per-device baselines and anomaly events. Pure code; the state is a JSON-ready struct.

A device's baseline is what it did during its learning period (from when it was
first seen): the (peer, port, protocol, direction) it used and its bytes per
window. After the learning period each window's conversations are checked:

- ``new_external_destination``: the device opened a conversation to an address
  outside the internal prefixes that it never used while learning;
- ``dns_unlisted_resolver``: DNS (53, 853) to a resolver not configured;
- ``admin_protocol_from_medical``: SMB/RDP/VNC/Telnet/FTP/SSH opened by a medical device;
- ``medical_to_medical``: a medical device opened a conversation with another one;
- ``it_management``: a conversation with a configured IT-management network;
- ``volume_above_baseline``: the device moved far more bytes than its usual window.

All reasons found for one conversation make one event; the same (device, rule,
peer, port) does not fire again before ``realert`` has passed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import msgspec

from collectors.flows.table import U64
from sensor.directory import DeviceDirectory
from sensor.flows.events import AnomalyEvent, Peer, Reason
from sensor.flows.model import Conversation, DeviceConversations
from sensor.ipnets import in_networks, networks

ADMIN_PORTS: dict[int, str] = {
    445: "SMB", 139: "SMB/NetBIOS", 3389: "RDP", 5900: "VNC", 5901: "VNC", 5902: "VNC", 5903: "VNC",
    23: "Telnet", 21: "FTP", 22: "SSH",
}
DNS_PORTS = frozenset({53, 853})
PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}


class DeviceBaseline(msgspec.Struct, kw_only=True):
    first_seen: float
    last_seen: float
    peers: list[str] = msgspec.field(default_factory=list)  # "peer|port|proto|dir"
    windows: int = 0
    mean_bytes: float = 0.0  # per window, learning windows and normal ones after; at most 2^64 - 1


class BaselineState(msgspec.Struct, kw_only=True):
    version: int = 1
    devices: dict[str, DeviceBaseline] = msgspec.field(default_factory=dict)
    fired: dict[str, float] = msgspec.field(default_factory=dict)  # "device|rule|peer|port" -> when


def conv_key(c: Conversation) -> str:
    return f"{c.peer}|{c.port}|{c.proto}|{c.dir}"


def is_routable(ip: str) -> bool:
    """False for link-local, multicast, broadcast, loopback and unspecified addresses (never "external")."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if addr.is_link_local or addr.is_multicast or addr.is_loopback or addr.is_unspecified:
        return False
    return not (isinstance(addr, ipaddress.IPv4Address) and addr == ipaddress.IPv4Address("255.255.255.255"))


class Baselines:
    def __init__(self, state: BaselineState, directory: DeviceDirectory, *, internal: Iterable[str],
                 dns_resolvers: Iterable[str] = (), it_management: Iterable[str] = (),
                 learning_period: float = 7 * 86400, realert: float = 86400, volume_factor: float = 10.0,
                 volume_min_bytes: int = 10_000_000, max_devices: int = 20_000, max_peers: int = 2_000) -> None:
        self.state = state
        self.directory = directory
        self.internal = networks(internal)
        self.resolvers = networks(dns_resolvers)
        self.it_management = networks(it_management)
        self.learning_period = learning_period
        self.realert = realert
        self.volume_factor = volume_factor
        self.volume_min_bytes = volume_min_bytes
        self.max_devices = max_devices
        self.max_peers = max_peers
        self.dropped = 0
        self.clamped = 0  # window volumes beyond 64 bits (an exporter's error), clamped
        for b in state.devices.values():  # baselines saved before volumes were clamped
            if not 0.0 <= b.mean_bytes <= U64:
                self.clamped += 1
                b.mean_bytes = float(U64) if b.mean_bytes > 0 else 0.0

    def learning(self, device: str, now: float) -> bool:
        b = self.state.devices.get(device)
        return b is None or now < b.first_seen + self.learning_period

    def update(self, windows: list[DeviceConversations], now: float) -> list[AnomalyEvent]:
        """Learn from one window and return the anomaly events it raises."""
        events: list[AnomalyEvent] = []
        for dc in windows:
            b = self.state.devices.get(dc.device)
            if b is None:
                if len(self.state.devices) >= self.max_devices:
                    self.dropped += 1
                    continue
                b = DeviceBaseline(first_seen=dc.window_start.timestamp(), last_seen=now)
                self.state.devices[dc.device] = b
            b.last_seen = now
            volume = dc.bytes_out + dc.bytes_in
            if volume > U64:
                self.clamped += 1
                volume = U64
            known = set(b.peers)
            if now < b.first_seen + self.learning_period:
                for c in dc.conversations:
                    k = conv_key(c)
                    if k not in known and len(b.peers) < self.max_peers:
                        b.peers.append(k)
                        known.add(k)
                self._volume(b, volume)
                continue
            medical = self.directory.is_medical(dc.mac, dc.ip)
            for c in dc.conversations:
                reasons = self._reasons(dc, c, known, medical)
                k = conv_key(c)
                if reasons:
                    fresh = [r for r in reasons if self._fresh(dc.device, r.rule, c, now)]
                    if fresh:
                        events.append(self._event(dc, c, fresh, now))
                if k not in known and len(b.peers) < self.max_peers:
                    b.peers.append(k)  # a new destination is new once
                    known.add(k)
            if (b.windows >= 3 and volume >= self.volume_min_bytes
                    and volume > self.volume_factor * max(b.mean_bytes, 1.0)):
                rule = "volume_above_baseline"
                if self._fresh(dc.device, rule, None, now):
                    events.append(AnomalyEvent(
                        event="anomaly", device=dc.device, mac=dc.mac, ip=dc.ip, peer=None, rule=rule,
                        reasons=[Reason(rule=rule, why=f"{volume} bytes this window, {self.volume_factor:g}x "
                                                       f"above its usual {b.mean_bytes:.0f} bytes per window")],
                        bytes=volume, window_start=dc.window_start, window_end=dc.window_end))
            else:
                self._volume(b, volume)
        self._expire(now)
        return events

    @staticmethod
    def _volume(b: DeviceBaseline, volume: int) -> None:
        b.windows += 1
        alpha = max(1.0 / b.windows, 0.05)  # a mean at first, then a slow moving average
        b.mean_bytes += alpha * (volume - b.mean_bytes)

    def _reasons(self, dc: DeviceConversations, c: Conversation, known: set[str],
                 medical: bool) -> list[Reason]:
        reasons: list[Reason] = []
        proto = PROTO_NAMES.get(c.proto, str(c.proto))
        external = is_routable(c.peer) and not in_networks(c.peer, self.internal)
        if c.dir == "out" and external and conv_key(c) not in known:
            reasons.append(Reason(rule="new_external_destination",
                            why=f"{dc.device} opened {proto}/{c.port} to {c.peer}, outside the internal networks, "
                                   f"never seen during its learning period"))
        if c.dir == "out" and c.port in DNS_PORTS and c.proto in (6, 17) and not in_networks(c.peer, self.resolvers):
            reasons.append(Reason(rule="dns_unlisted_resolver",
                            why=f"{dc.device} sent DNS to {c.peer}, which is not a configured resolver"))
        if medical and c.dir == "out" and c.proto == 6 and c.port in ADMIN_PORTS:
            reasons.append(Reason(rule="admin_protocol_from_medical",
                            why=f"medical device {dc.device} opened {ADMIN_PORTS[c.port]} (tcp/{c.port}) "
                                   f"to {c.peer}"))
        if medical and c.dir == "out":
            peer_mac = self.directory.resolve(c.peer)
            if self.directory.is_medical(peer_mac, c.peer):
                reasons.append(Reason(rule="medical_to_medical",
                                why=f"medical device {dc.device} opened {proto}/{c.port} to medical device "
                                       f"{peer_mac or c.peer}"))
        if in_networks(c.peer, self.it_management):
            reasons.append(Reason(rule="it_management",
                            why=f"{dc.device} talked {proto}/{c.port} ({c.dir}) with {c.peer}, "
                                   f"in an IT-management network"))
        return reasons

    def _fresh(self, device: str, rule: str, c: Conversation | None, now: float) -> bool:
        key = f"{device}|{rule}|{c.peer if c else ''}|{c.port if c else ''}"
        last = self.state.fired.get(key)
        if last is not None and now - last < self.realert:
            return False
        self.state.fired[key] = now
        return True

    def _expire(self, now: float) -> None:
        if len(self.state.fired) > 10 * self.max_devices:
            for k in [k for k, t in self.state.fired.items() if now - t >= self.realert]:
                del self.state.fired[k]

    @staticmethod
    def _event(dc: DeviceConversations, c: Conversation, reasons: list[Reason], now: float) -> AnomalyEvent:
        return AnomalyEvent(
            event="anomaly", device=dc.device, mac=dc.mac, ip=dc.ip,
            peer=Peer(ip=c.peer, port=c.port, proto=c.proto, dir="in" if c.dir == "in" else "out"),
            rule=reasons[0].rule, reasons=reasons,
            bytes=min(c.bytes_out + c.bytes_in, U64), packets=min(c.packets_out + c.packets_in, U64),
            window_start=dc.window_start, window_end=dc.window_end)
