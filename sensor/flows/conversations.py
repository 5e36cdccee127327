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
from datetime import UTC, datetime
from typing import Any

from collectors.flows.records import ip_text, mac_text
from collectors.flows.table import U64, FlowTable, Source, source_label
from sensor.directory import DeviceDirectory
from sensor.flows.model import Conversation, DeviceConversations
from sensor.ipnets import Network, networks

# Ports that name a service even above 1024 (clinical ones first).
KNOWN_SERVICES: frozenset[int] = frozenset({
    104, 11112, 2575, 2761, 2762, 24105, 24005, 3200,          # DICOM, HL7 MLLP, IntelliVue, ...
    20, 21, 22, 23, 25, 53, 67, 68, 69, 80, 88, 110, 123, 135, 137, 138, 139, 143, 161, 162, 389, 443,
    445, 514, 636, 853, 993, 995, 1433, 1521, 1883, 3306, 3389, 5060, 5061, 5432, 5900, 5901, 5902, 5903,
    8080, 8443, 8883,
})  # fmt: skip
PORT_PROTOS = frozenset({6, 17, 132, 33})


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
                 max_peers_per_device: int = 2_000, switch_exporters: Mapping[str, str] | None = None,
                 prefer_exporters: Iterable[str] = ()) -> None:
        self.directory = directory
        self.internal: list[Network] = networks(internal)
        self.max_devices = max_devices
        self.max_peers = max_peers_per_device
        self.switch_exporters = dict(switch_exporters or {})  # exporter address -> configured switch name
        self.prefer: list[Network] = networks(prefer_exporters)
        self._prefer_cache: dict[str, int] = {}
        self.dropped = 0
        self.duplicates = 0  # conversations also exported by an exporter that did not win (not counted)
        self.clamped = 0  # sums beyond 64 bits (an exporter's error), clamped
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

    def rank(self, source: Source, access_switch: str | None) -> tuple[int, int, int, str]:
        """How near an exporting process is to a device: lower wins.

        The device's own access switch first (it sees every frame the device sends),
        then the configured ``prefer_exporters`` in their order, then any configured
        switch, then the rest; among equals IPFIX before v9 before v5 (more fields,
        64-bit counters), then the lower address, so the choice is stable across windows.
        """
        addr, version = source
        switch = self.switch_exporters.get(addr)
        pref = self._prefer_index(addr)
        if access_switch is not None and switch == access_switch:
            cls = 0
        elif pref < len(self.prefer):
            cls = 1
        elif switch is not None:
            cls = 2
        else:
            cls = 3
        return cls, pref, -version, addr

    def _prefer_index(self, addr: str) -> int:
        i = self._prefer_cache.get(addr)
        if i is None:
            i = len(self.prefer)
            try:
                ip = ipaddress.ip_address(addr)
            except ValueError:
                ip = None
            if ip is not None:
                i = next((n for n, net in enumerate(self.prefer) if ip in net), i)
            if len(self._prefer_cache) < 65536:
                self._prefer_cache[addr] = i
        return i

    def summarize(self, table: FlowTable, start: float, end: float) -> list[DeviceConversations]:
        """Per-device conversations of one window; a flow exported by several exporters is counted once."""
        text: dict[bytes, str] = {}
        who: dict[bytes, tuple[bool, str | None]] = {}

        def ident(raw: bytes) -> tuple[bool, str | None]:
            r = who.get(raw)
            if r is None:
                ip = text[raw] = ip_text(raw)
                mac = self.directory.resolve(ip)
                r = who[raw] = (mac is not None or self.is_internal(raw), mac)
            return r

        # device -> conversation -> exporting process -> [b_out, b_in, p_out, p_in, flows, (rate, from)]
        per_dev: dict[bytes, dict[tuple[str, int, int, str], dict[Source, list[Any]]]] = {}
        peer_macs: dict[bytes, dict[str, str]] = {}
        for source, rows in table.sources.items():
            for key, (nbytes, npkts, nrec, rate) in rows.items():
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
                    seen = convs.get(ck)
                    if seen is None:
                        if len(convs) >= self.max_peers:
                            self.dropped += 1
                            continue
                        seen = convs[ck] = {}
                    acc = seen.get(source)
                    if acc is None:
                        acc = seen[source] = [0, 0, 0, 0, 0, rate]
                    elif rate[0] > acc[5][0]:
                        acc[5] = rate  # several rates in one window: report the coarsest
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
        window_start, window_end = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        for dev, convs in per_dev.items():
            mac = who[dev][1]
            ip = text[dev]
            access = self.directory.access_switch(mac) if mac is not None else None
            items = []
            for (peer_ip, port, proto, d), seen in convs.items():
                order = sorted(seen, key=lambda s: self.rank(s, access))
                b_out, b_in, p_out, p_in, flows, (rate, rate_from) = seen[order[0]]
                if len(order) > 1:
                    self.duplicates += len(order) - 1
                items.append(Conversation(peer_ip, port, proto, d, self._clamp(b_out), self._clamp(b_in),
                                          self._clamp(p_out), self._clamp(p_in), flows,
                                          [source_label(s) for s in order], rate, rate_from))
            items.sort(key=lambda c: (-(c.bytes_out + c.bytes_in), c.peer, c.port, c.proto, c.dir))
            out.append(DeviceConversations(
                device=mac or ip, mac=mac, ip=ip, window_start=window_start, window_end=window_end,
                bytes_out=self._clamp(sum(c.bytes_out for c in items)),
                bytes_in=self._clamp(sum(c.bytes_in for c in items)),
                conversations=items, peer_macs=peer_macs.get(dev, {}),
            ))
        out.sort(key=lambda d: d.device)
        return out

    def _clamp(self, n: int) -> int:
        if n > U64:
            self.clamped += 1
            return U64
        return n
