"""UDP payloads from a packet capture (classic pcap or pcapng), for decoding saved flow exports (pure).

``tcpdump -w export.pcap udp port 2055`` on the sensor is the usual way an engineer saves
what an exporter sends; this reads such a file without a capture library: Ethernet (with
802.1Q/802.1ad tags), Linux cooked (SLL, SLL2), raw IP and BSD loopback link types, IPv4
and IPv6, UDP only. Fragments other than the first are skipped and counted, like anything
else that is not a whole UDP datagram.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

PCAP_MAGICS = {b"\xa1\xb2\xc3\xd4": ">", b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">", b"\x4d\x3c\xb2\xa1": "<"}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"

LINK_ETHERNET, LINK_RAW, LINK_SLL, LINK_SLL2, LINK_NULL = 1, 101, 113, 276, 0
RAW_ALIASES = {12, 14, 101, 228, 229}  # DLT_RAW on various systems, LINKTYPE_IPV4/IPV6


class PcapError(ValueError):
    """The file is not a capture this reader understands."""


@dataclass(frozen=True)
class Datagram:
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


@dataclass
class Skipped:
    counts: Counter[str] = field(default_factory=Counter)


def is_capture(head: bytes) -> bool:
    return head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_SHB


def udp_datagrams(data: bytes, skipped: Skipped | None = None) -> Iterator[Datagram]:
    """Every UDP datagram in a pcap or pcapng file's bytes, in capture order."""
    skipped = skipped if skipped is not None else Skipped()
    for link, frame in _frames(data):
        d = _udp(link, frame, skipped)
        if d is not None:
            yield d


def _frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    head = data[:4]
    if head in PCAP_MAGICS:
        e = PCAP_MAGICS[head]
        if len(data) < 24:
            raise PcapError("truncated pcap header")
        link = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
        off = 24
        while off + 16 <= len(data):
            incl = struct.unpack_from(e + "I", data, off + 8)[0]
            off += 16
            if off + incl > len(data):
                break  # a capture cut short: what came before is still good
            yield link, data[off:off + incl]
            off += incl
        return
    if head == PCAPNG_SHB:
        yield from _pcapng(data)
        return
    raise PcapError("not a pcap or pcapng file")


def _pcapng(data: bytes) -> Iterator[tuple[int, bytes]]:
    off, e = 0, "<"
    links: list[int] = []
    while off + 12 <= len(data):
        if data[off:off + 4] == PCAPNG_SHB:
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else ""
            if not e:
                raise PcapError("pcapng section with an unknown byte order")
            links = []
        btype, blen = struct.unpack_from(e + "II", data, off)
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 2:  # interface description
            links.append(struct.unpack_from(e + "H", body, 0)[0])
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            iface, _, _, cap, _ = struct.unpack_from(e + "IIIII", body, 0)
            if iface < len(links):
                yield links[iface], body[20:20 + cap]
        elif btype == 3 and len(body) >= 4 and links:  # simple packet: interface 0
            orig = struct.unpack_from(e + "I", body, 0)[0]
            yield links[0], body[4:4 + orig]
        off += blen


def _udp(link: int, frame: bytes, skipped: Skipped) -> Datagram | None:
    ip = _network(link, frame)
    if ip is None:
        skipped.counts["not IP"] += 1
        return None
    if len(ip) < 1:
        return None
    version = ip[0] >> 4
    if version == 4 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        flags_frag = struct.unpack_from("!H", ip, 6)[0]
        if flags_frag & 0x1FFF or flags_frag & 0x2000:
            skipped.counts["IP fragments"] += 1
            return None
        if ip[9] != 17:
            skipped.counts["not UDP"] += 1
            return None
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        udp = ip[ihl:]
    elif version == 6 and len(ip) >= 40:
        if ip[6] != 17:
            skipped.counts["not UDP (or IPv6 extension headers)"] += 1
            return None
        src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        udp = ip[40:]
    else:
        skipped.counts["not IP"] += 1
        return None
    if len(udp) < 8:
        skipped.counts["truncated"] += 1
        return None
    sport, dport, length = struct.unpack_from("!HHH", udp, 0)
    payload = udp[8:length] if 8 <= length <= len(udp) else udp[8:]
    if length > len(udp):
        skipped.counts["truncated (snap length)"] += 1
        return None
    return Datagram(src, sport, dst, dport, bytes(payload))


def _network(link: int, frame: bytes) -> bytes | None:
    """The IP packet inside a link-layer frame, or None."""
    if link == LINK_ETHERNET:
        off, etype = 12, 0
        while off + 2 <= len(frame):
            etype = struct.unpack_from("!H", frame, off)[0]
            if etype in (0x8100, 0x88A8, 0x9100):
                off += 4
                continue
            break
        return frame[off + 2:] if etype in (0x0800, 0x86DD) else None
    if link == LINK_SLL:
        return frame[16:] if len(frame) >= 16 and struct.unpack_from("!H", frame, 14)[0] in (0x0800, 0x86DD) \
            else None
    if link == LINK_SLL2:
        return frame[20:] if len(frame) >= 20 and struct.unpack_from("!H", frame, 0)[0] in (0x0800, 0x86DD) \
            else None
    if link in RAW_ALIASES:
        return frame
    if link == LINK_NULL:
        return frame[4:] if len(frame) >= 4 else None
    return None
