#!/usr/bin/env python3
"""A benchmark SNMP v2c agent that is never the bottleneck: a whole campus of virtual switches.

    .venv/bin/python bench/agent.py --measure [--switches 50]     # responses/s, then exit
    .venv/bin/python bench/agent.py --switches 1000 --serve        # serve until killed

Every virtual switch is generated from a corpus recording (../shared/corpus/snmp/*/device.snmprec):
the recording's rows stay (system group, everything the sensor does not read), and the tables the
sensor reads (interfaces, bridge ports, Q-BRIDGE FDB, IP-MIB neighbours, LLDP and LLDP-MED) are
replaced by generated ones at realistic size, with distinct MACs, IPs and names per switch:
900 of 1,000 are 48-port access switches (their devices, an IP phone with a PC behind some ports,
LLDP to the distribution switch, to phones and to monitors), 90 distribution switches (every MAC
of their access switches on the downlinks, ARP for IPv4 and ND for IPv6: about 1,000 neighbours
each), 10 core switches. The devices (50,000 for 1,000 switches) are spread over the access switches.

Each switch listens on its own loopback address (127.77.x.y) and one UDP port. A request is
answered from a dictionary keyed by the request with its request-id cut out: the first time,
the response's varbinds are computed from the switch's sorted table (GET, GETNEXT, GETBULK
semantics of RFC 3416) and BER-encoded once; afterwards only the request-id is put back in.
A small control socket (``move FRACTION SEED``, ``stats``) lets bench/campus.py move devices
between cycles; moving invalidates only the switches concerned.

Pure Python, no pyasn1: the encoder below writes the few BER types SNMP needs.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import re
import select
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "snmp"
COMMUNITY = "campus"
DEVICES_PER_1000 = 50_000

# --- BER ---------------------------------------------------------------------------------


def enc_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(b),)) + b


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + enc_len(len(content)) + content


def oid_content(arcs: tuple[int, ...]) -> bytes:
    out = bytearray((arcs[0] * 40 + arcs[1],))
    for a in arcs[2:]:
        if a < 0x80:
            out.append(a)
            continue
        chunk = []
        while a:
            chunk.append(a & 0x7F)
            a >>= 7
        for i, c in enumerate(reversed(chunk)):
            out.append(c | (0x80 if i < len(chunk) - 1 else 0))
    return bytes(out)


def oid_arcs(content: bytes) -> tuple[int, ...]:
    first = content[0]
    arcs = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    v = 0
    for b in content[1:]:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(v)
            v = 0
    return tuple(arcs)


def enc_int(tag: int, v: int, unsigned: bool = False) -> bytes:
    if unsigned:
        n = max(1, (v.bit_length() + 8) // 8)
        return tlv(tag, v.to_bytes(n, "big"))
    n = max(1, (v.bit_length() + 8) // 8)
    return tlv(tag, v.to_bytes(n, "big", signed=True))


def v_int(v: int) -> bytes:
    return enc_int(0x02, v)


def v_str(s: bytes | str) -> bytes:
    return tlv(0x04, s.encode() if isinstance(s, str) else s)


def v_oid(arcs: tuple[int, ...]) -> bytes:
    return tlv(0x06, oid_content(arcs))


def v_gauge(v: int) -> bytes:
    return enc_int(0x42, v, unsigned=True)


def v_ticks(v: int) -> bytes:
    return enc_int(0x43, v, unsigned=True)


END_OF_MIB = b"\x82\x00"
NO_SUCH_INSTANCE = b"\x81\x00"


def read_tlv(buf: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the TLV at ``i``."""
    tag = buf[i]
    n = buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    return tag, i, i + n


def decode_varbinds(buf: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    """(OID content, value TLV) of each varbind in a varbind list's content."""
    out = []
    i = start
    while i < end:
        _, s, e = read_tlv(buf, i)
        _, os_, oe = read_tlv(buf, s)
        out.append((buf[os_:oe], buf[oe:e]))
        i = e
    return out


# --- snmprec recordings -------------------------------------------------------------------

# Tables the sensor reads (collectors/snmp/oids.py) and the rows that go with them: replaced
# by generated ones. Everything else in a recording is served as recorded.
REPLACED = [
    "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1", "1.3.6.1.2.1.17.1.4", "1.3.6.1.2.1.17.4.3",
    "1.3.6.1.2.1.17.7.1.2.2", "1.3.6.1.2.1.17.7.1.4.2", "1.3.6.1.2.1.4.35", "1.3.6.1.2.1.4.22",
    "1.0.8802.1.1.2.1.3.7", "1.0.8802.1.1.2.1.4", "1.0.8802.1.1.2.1.5.4795.1.3", "1.3.6.1.4.1.9.9.23.1.2",
    "1.2.840.10006.300.43.1.2", "1.3.6.1.4.1.9.9.46.1.3", "1.3.6.1.4.1.2011.5.25.42.2.1.3",
    "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.17.1.1.0",
]
_TYPES = {"2": 0x02, "4": 0x04, "5": 0x05, "6": 0x06, "64": 0x40, "65": 0x41, "66": 0x42, "67": 0x43,
          "68": 0x44, "70": 0x46}


@dataclass
class Template:
    name: str
    rows: list[tuple[bytes, bytes]]  # (OID content, varbind TLV), recorded rows kept as they are
    sys_object_id: str
    port_name: str  # "1/1/{n}"
    port_descr: str


def _encode_value(typ: str, text: str) -> bytes | None:
    hexed = typ.endswith("x")
    tag = _TYPES.get(typ.rstrip("x"))
    if tag is None:
        return None
    if tag in (0x04, 0x44):
        return tlv(tag, bytes.fromhex(text) if hexed else text.encode())
    if tag == 0x06:
        return v_oid(tuple(int(p) for p in text.strip(".").split(".")))
    if tag == 0x05:
        return b"\x05\x00"
    if tag == 0x40:
        return tlv(0x40, bytes.fromhex(text) if hexed else socket.inet_aton(text))
    try:
        v = int(text)
    except ValueError:
        return None
    return enc_int(tag, v, unsigned=tag != 0x02)


def load_template(name: str) -> Template:
    path = CORPUS / name / "device.snmprec"
    replaced = [oid_content(tuple(int(p) for p in r.split("."))) for r in REPLACED]
    rows = []
    sys_object_id = "1.3.6.1.4.1.8072.3.2.10"
    names: dict[str, str] = {}
    descrs: dict[str, str] = {}
    types: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split("|", 2)
        if len(parts) != 3:
            continue
        o, typ, text = parts
        try:
            arcs = tuple(int(p) for p in o.strip(".").split("."))
        except ValueError:
            continue
        content = oid_content(arcs)
        if o == "1.3.6.1.2.1.1.2.0":
            sys_object_id = text
        if typ.startswith("4"):
            val = bytes.fromhex(text).decode(errors="replace") if typ == "4x" else text
            if o.startswith("1.3.6.1.2.1.31.1.1.1.1."):
                names[o.rsplit(".", 1)[1]] = val
            elif o.startswith("1.3.6.1.2.1.2.2.1.2."):
                descrs[o.rsplit(".", 1)[1]] = val
        if o.startswith("1.3.6.1.2.1.2.2.1.3."):
            types[o.rsplit(".", 1)[1]] = text
        if any(content == r or content.startswith(r) for r in replaced):
            continue
        value = _encode_value(typ, text)
        if value is not None:
            rows.append((content, tlv(0x30, tlv(0x06, content) + value)))
    phys = sorted((int(i) for i, t in types.items() if t == "6"))
    first = str(phys[0]) if phys else ""

    def pattern(s: str, fallback: str) -> str:
        m = re.search(r"\d+$", s)
        return s[:m.start()] + "{n}" if m else fallback

    return Template(name, rows, sys_object_id, pattern(names.get(first, ""), "port{n}"),
                    pattern(descrs.get(first, ""), "Port {n}"))


# --- the campus ----------------------------------------------------------------------------

# (class hint, OUI, vlan, has LLDP-MED): the real registry blocks the classifier knows.
KINDS = [
    ("infusion_pump", "58:42:e4", 110, False), ("infusion_pump", "f8:c6:78", 110, False),
    ("infusion_pump", "58:42:e4", 110, False), ("infusion_pump", "f8:c6:78", 110, False),
    ("patient_monitor", "00:09:5c", 110, True), ("patient_monitor", "00:0f:14", 110, False),
    ("patient_monitor", "00:09:5c", 110, True), ("imaging", "44:4b:5d", 140, False),
    ("lab_analyzer", "00:06:6b", 140, False), ("clinical_communications", "00:09:ef", 130, False),
    ("workstation", "00:06:5b", 120, False), ("workstation", "00:08:74", 120, False),
    ("workstation", "00:06:5b", 120, False), ("workstation", "00:08:74", 120, False),
    ("workstation", "00:06:5b", 120, False), ("workstation", "00:08:74", 120, False),
    ("ip_phone", "00:04:f2", 130, True), ("ip_phone", "64:16:7f", 130, True),
    ("printer", "00:05:12", 120, False), ("unknown", "02:5e:00", 120, False),
]
VLANS = (10, 110, 120, 130, 140)
ACCESS_TEMPLATES = ("procurve_2520", "arubaos-cx_10.10", "edgecos_es3510ma", "dlink_dgs-3620-28sc")
DIST_TEMPLATES = ("dnos", "arista_eos")
CORE_TEMPLATES = ("arista_eos",)
MGMT_IFINDEX = 1000


def mac_bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def device_mac(i: int) -> bytes:
    return mac_bytes(KINDS[i % len(KINDS)][1]) + (i + 1).to_bytes(3, "big")


def device_ip(i: int) -> bytes:
    h = i + 1
    return bytes((10, 64 + (h >> 16), (h >> 8) & 255, h & 255))


def device_ip6(i: int) -> list[bytes]:
    """Link-local for 6 of 10 devices, a global address too for 3 of 10."""
    out = []
    if i % 10 < 6:
        m = device_mac(i)
        eui = bytes((m[0] ^ 2,)) + m[1:3] + b"\xff\xfe" + m[3:]
        out.append(b"\xfe\x80" + b"\0" * 6 + eui)
    if i % 10 < 3:
        out.append(bytes.fromhex("20010db8") + b"\0" * 8 + (i + 1).to_bytes(4, "big"))
    return out


def switch_mac(s: int) -> bytes:
    return bytes.fromhex("0002b3") + (0x100000 + s).to_bytes(3, "big")  # Intel block, one per switch


def switch_ip(s: int) -> bytes:
    """The management address a switch has in its neighbours' ARP tables (not where it listens)."""
    return bytes((10, 250, s >> 8, s & 255))


def switch_addr(s: int) -> str:
    """The loopback address of virtual switch ``s`` (0-based): 127.77.(s/250).(1 + s%250)."""
    return f"127.77.{s // 250}.{1 + s % 250}"


@dataclass
class Campus:
    """Who is where: switches by role, devices on access ports; deterministic for a size."""

    switches: int
    devices: int = 0
    moved: dict[int, tuple[int, int]] = field(default_factory=dict)  # device -> (access switch, port)

    def __post_init__(self) -> None:
        n = self.switches
        self.n_core = max(1, round(n * 0.01))
        self.n_dist = max(1, round(n * 0.09))
        self.n_access = max(1, n - self.n_core - self.n_dist)
        if not self.devices:
            self.devices = round(self.n_access * DEVICES_PER_1000 / 900)
        self._members: dict[int, list[tuple[int, int]]] | None = None

    # switches are numbered: access 0..A-1, then distribution, then core
    def role(self, s: int) -> str:
        if s < self.n_access:
            return "access"
        return "dist" if s < self.n_access + self.n_dist else "core"

    def name(self, s: int) -> str:
        r = self.role(s)
        if r == "access":
            return f"bldg{s // 100:02d}-idf{(s // 10) % 10}-access-{s % 10 + 1:02d}"
        if r == "dist":
            return f"bldg{(s - self.n_access):02d}-dist-1"
        return f"campus-core-{s - self.n_access - self.n_dist + 1}"

    def dist_of(self, a: int) -> int:
        return self.n_access + a % self.n_dist

    def accesses_of(self, d: int) -> list[int]:
        k = d - self.n_access
        return list(range(k, self.n_access, self.n_dist))

    def cores_of(self, d: int) -> list[int]:
        k = d - self.n_access
        base = self.n_access + self.n_dist
        return sorted({base + k % self.n_core, base + (k + 1) % self.n_core})

    def dists_of(self, c: int) -> list[int]:
        return [d for d in range(self.n_access, self.n_access + self.n_dist) if c in self.cores_of(d)]

    def template(self, s: int) -> str:
        r = self.role(s)
        pool = ACCESS_TEMPLATES if r == "access" else DIST_TEMPLATES if r == "dist" else CORE_TEMPLATES
        return pool[s % len(pool)]

    def home(self, i: int) -> tuple[int, int]:
        """Device i's access switch and port (1..48) before any move."""
        a = i * self.n_access // self.devices
        first = -(-a * self.devices // self.n_access)
        return a, (i - first) % 48 + 1

    def members(self, a: int) -> list[tuple[int, int]]:
        """(device, port) on access switch a."""
        if self._members is None:
            m: dict[int, list[tuple[int, int]]] = {}
            for i in range(self.devices):
                sw, port = self.moved.get(i) or self.home(i)
                m.setdefault(sw, []).append((i, port))
            self._members = m
        return self._members.get(a, [])

    def move(self, fraction: float, seed: int) -> set[int]:
        """Move ``fraction`` of the devices to another access switch; returns the switches changed."""
        rng = random.Random(seed)
        changed: set[int] = set()
        for i in rng.sample(range(self.devices), max(1, int(self.devices * fraction))):
            old = self.moved.get(i) or self.home(i)
            new = (rng.randrange(self.n_access), rng.randrange(1, 49))
            if new[0] == old[0]:
                new = ((new[0] + 1) % self.n_access, new[1])
            self.moved[i] = new
            changed.update((old[0], new[0], self.dist_of(old[0]), self.dist_of(new[0])))
        self._members = None
        return changed


def _col(base: str, col: int) -> tuple[int, ...]:
    return (*tuple(int(p) for p in base.split(".")), col)


IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"
LLDP_LOC = "1.0.8802.1.1.2.1.3.7.1"
LLDP_REM = "1.0.8802.1.1.2.1.4.1.1"
MED_CAP = "1.0.8802.1.1.2.1.5.4795.1.3.1.1"
MED_INV = "1.0.8802.1.1.2.1.5.4795.1.3.3.1"
CAP_BRIDGE_ROUTER = b"\x28\x00"  # LLDP capabilities bits: bridge, router
CAP_BRIDGE = b"\x20\x00"
CAP_PHONE = b"\x24\x00"  # bridge + telephone
CAP_STATION = b"\x01\x00"


@dataclass
class Iface:
    ifindex: int
    name: str
    descr: str
    iftype: int = 6
    speed_mbps: int = 1000
    up: bool = True
    alias: str = ""


class Builder:
    """The rows of one virtual switch."""

    def __init__(self) -> None:
        self.rows: list[tuple[bytes, bytes]] = []
        self.rem_index = 0

    def add(self, arcs: tuple[int, ...], value: bytes) -> None:
        c = oid_content(arcs)
        self.rows.append((c, tlv(0x30, tlv(0x06, c) + value)))

    def interfaces(self, ifaces: list[Iface], mac: bytes) -> None:
        for f in ifaces:
            i = (f.ifindex,)
            self.add(_col(IF, 1) + i, v_int(f.ifindex))
            self.add(_col(IF, 2) + i, v_str(f.descr))
            self.add(_col(IF, 3) + i, v_int(f.iftype))
            self.add(_col(IF, 5) + i, v_gauge(min(f.speed_mbps * 1_000_000, 4_294_967_295)))
            self.add(_col(IF, 6) + i, v_str(mac))
            self.add(_col(IF, 7) + i, v_int(1))
            self.add(_col(IF, 8) + i, v_int(1 if f.up else 2))
            self.add(_col(IFX, 1) + i, v_str(f.name))
            self.add(_col(IFX, 15) + i, v_gauge(f.speed_mbps))
            self.add(_col(IFX, 18) + i, v_str(f.alias))
            if f.iftype == 6:
                self.add(_col("1.3.6.1.2.1.17.1.4.1", 2) + i, v_int(f.ifindex))  # bridge port = ifIndex
                self.add(_col(LLDP_LOC, 2) + i, v_int(5))
                self.add(_col(LLDP_LOC, 3) + i, v_str(f.name))
                self.add(_col(LLDP_LOC, 4) + i, v_str(f.descr))

    def fdb(self, vlan: int, mac: bytes, port: int) -> None:
        idx = (vlan, *mac)
        self.add(_col("1.3.6.1.2.1.17.7.1.2.2.1", 2) + idx, v_int(port))
        self.add(_col("1.3.6.1.2.1.17.7.1.2.2.1", 3) + idx, v_int(3))

    def vlans(self) -> None:
        for v in VLANS:
            self.add((*_col("1.3.6.1.2.1.17.7.1.4.2.1", 3), 0, v), v_gauge(v))

    def neighbour(self, ifindex: int, ip: bytes | None, mac: bytes, v6: list[bytes] = ()) -> None:  # type: ignore[assignment]
        if ip is not None:
            self.add((*_col("1.3.6.1.2.1.4.35.1", 4), ifindex, 1, 4, *ip), v_str(mac))
            self.add((*_col("1.3.6.1.2.1.4.35.1", 6), ifindex, 1, 4, *ip), v_int(3))
            self.add((*_col("1.3.6.1.2.1.4.22.1", 2), ifindex, *ip), v_str(mac))
            self.add((*_col("1.3.6.1.2.1.4.22.1", 4), ifindex, *ip), v_int(3))
        for a in v6:
            self.add((*_col("1.3.6.1.2.1.4.35.1", 4), ifindex, 2, 16, *a), v_str(mac))
            self.add((*_col("1.3.6.1.2.1.4.35.1", 6), ifindex, 2, 16, *a), v_int(3))

    def lldp(self, port: int, chassis: bytes, port_id: str, sys_name: str, sys_desc: str, caps: bytes,
             med: tuple[int, str, str, str] | None = None) -> None:
        self.rem_index += 1
        idx = (0, port, self.rem_index)
        self.add(_col(LLDP_REM, 4) + idx, v_int(4))
        self.add(_col(LLDP_REM, 5) + idx, v_str(chassis))
        self.add(_col(LLDP_REM, 6) + idx, v_int(5 if not port_id.count(":") else 3))
        self.add(_col(LLDP_REM, 7) + idx, v_str(port_id if ":" not in port_id else chassis))
        self.add(_col(LLDP_REM, 8) + idx, v_str(port_id))
        self.add(_col(LLDP_REM, 9) + idx, v_str(sys_name))
        self.add(_col(LLDP_REM, 10) + idx, v_str(sys_desc))
        self.add(_col(LLDP_REM, 11) + idx, v_str(caps))
        self.add(_col(LLDP_REM, 12) + idx, v_str(caps))
        if med is not None:
            cls, mfg, model, fw = med
            self.add(_col(MED_CAP, 3) + idx, v_int(cls))
            self.add(_col(MED_INV, 2) + idx, v_str(fw))
            self.add(_col(MED_INV, 3) + idx, v_str(fw))
            self.add(_col(MED_INV, 5) + idx, v_str(mfg))
            self.add(_col(MED_INV, 6) + idx, v_str(model))


def port_name(t: Template, n: int) -> tuple[str, str]:
    return t.port_name.replace("{n}", str(n)), t.port_descr.replace("{n}", str(n))


def build_switch(c: Campus, s: int, templates: dict[str, Template]) -> tuple[list[bytes], list[bytes]]:
    """Sorted (OID contents, varbind TLVs) of virtual switch ``s``."""
    t = templates[c.template(s)]
    b = Builder()
    mac = switch_mac(s)
    b.add((1, 3, 6, 1, 2, 1, 1, 5, 0), v_str(c.name(s)))
    b.add((1, 3, 6, 1, 2, 1, 17, 1, 1, 0), v_str(mac))
    role = c.role(s)
    mgmt = Iface(MGMT_IFINDEX, "vlan10", "vlan10", iftype=136)
    if role == "access":
        ports = [Iface(n, *port_name(t, n)) for n in range(1, 53)]
        for p in ports[48:]:
            p.speed_mbps, p.alias = 10_000, "uplink"
        ports[50].up = ports[51].up = False
        b.interfaces([*ports, mgmt], mac)
        b.vlans()
        d = c.dist_of(s)
        dt = templates[c.template(d)]
        down = c.accesses_of(d).index(s) + 1
        b.lldp(49, switch_mac(d), port_name(dt, down)[0], c.name(d), "distribution", CAP_BRIDGE_ROUTER)
        for v in VLANS:
            b.fdb(v, switch_mac(d), 49)
        b.neighbour(MGMT_IFINDEX, switch_ip(d), switch_mac(d))
        for i, port in c.members(s):
            kind, _, vlan, med = KINDS[i % len(KINDS)]
            m = device_mac(i)
            b.fdb(vlan, m, port)
            if med and kind == "ip_phone":
                b.lldp(port, m, m.hex(":"), f"SEP{m.hex().upper()}", "Polycom VVX 450", CAP_PHONE,
                       (3, "Polycom", "VVX 450", "6.4.3"))
            elif med:
                b.lldp(port, m, m.hex(":"), "", "Philips IntelliVue", CAP_STATION,
                       (1, "Philips Medical Systems", "IntelliVue MX450", "M.00.03"))
    elif role == "dist":
        downs = c.accesses_of(s)
        cores = c.cores_of(s)
        ports = [Iface(n, *port_name(t, n), speed_mbps=10_000) for n in range(1, len(downs) + len(cores) + 1)]
        vifs = [Iface(MGMT_IFINDEX + v, f"vlan{v}", f"vlan{v}", iftype=136) for v in VLANS]
        b.interfaces([*ports, *vifs], mac)
        b.vlans()
        for k, a in enumerate(downs, start=1):
            at = templates[c.template(a)]
            b.lldp(k, switch_mac(a), port_name(at, 49)[0], c.name(a), "access", CAP_BRIDGE)
            b.fdb(10, switch_mac(a), k)
            b.neighbour(MGMT_IFINDEX + 10, switch_ip(a), switch_mac(a))
            for i, _ in c.members(a):
                vlan = KINDS[i % len(KINDS)][2]
                b.fdb(vlan, device_mac(i), k)
                b.neighbour(MGMT_IFINDEX + vlan, device_ip(i), device_mac(i), device_ip6(i))
        for k, co in enumerate(cores, start=len(downs) + 1):
            ct = templates[c.template(co)]
            b.lldp(k, switch_mac(co), port_name(ct, c.dists_of(co).index(s) + 1)[0], c.name(co), "core",
                   CAP_BRIDGE_ROUTER)
            b.fdb(10, switch_mac(co), k)
    else:
        dists = c.dists_of(s)
        ports = [Iface(n, *port_name(t, n), speed_mbps=40_000) for n in range(1, len(dists) + 1)]
        b.interfaces([*ports, mgmt], mac)
        b.vlans()
        for k, d in enumerate(dists, start=1):
            dt = templates[c.template(d)]
            up = len(c.accesses_of(d)) + c.cores_of(d).index(s) + 1
            b.lldp(k, switch_mac(d), port_name(dt, up)[0], c.name(d), "distribution", CAP_BRIDGE_ROUTER)
            b.fdb(10, switch_mac(d), k)
            b.neighbour(MGMT_IFINDEX, switch_ip(d), switch_mac(d))
    rows = sorted(t.rows + b.rows)
    return [r[0] for r in rows], [r[1] for r in rows]


# --- the agent -----------------------------------------------------------------------------

MAX_RESPONSE = 60_000


class Agent:
    """Every virtual switch's table, built on first use, and every answer, computed once."""

    def __init__(self, campus: Campus, community: str = COMMUNITY) -> None:
        self.campus = campus
        self.community = tlv(0x04, community.encode())
        self.templates = {n: load_template(n) for n in {*ACCESS_TEMPLATES, *DIST_TEMPLATES, *CORE_TEMPLATES}}
        self.tables: dict[int, tuple[list[bytes], list[bytes]]] = {}
        self.cache: dict[int, dict[bytes, bytes]] = {}
        self.answered = self.hits = self.misses = self.dropped = 0

    def table(self, s: int) -> tuple[list[bytes], list[bytes]]:
        t = self.tables.get(s)
        if t is None:
            t = self.tables[s] = build_switch(self.campus, s, self.templates)
        return t

    def invalidate(self, switches: set[int]) -> None:
        for s in switches:
            self.tables.pop(s, None)
            self.cache.pop(s, None)

    def answer(self, s: int, msg: bytes) -> bytes | None:
        """The response datagram to ``msg`` for switch ``s``; None for what a real agent ignores."""
        try:
            tag, start, _end = read_tlv(msg, 0)
            _, vs, ve = read_tlv(msg, start)  # version
            _, _cs, ce = read_tlv(msg, ve)  # community
            ptag, ps, pe = read_tlv(msg, ce)
            _, _rs, re_ = read_tlv(msg, ps)  # request-id
        except IndexError:
            self.dropped += 1
            return None
        if tag != 0x30 or msg[vs:ve] != b"\x01" or msg[ve:ce] != self.community:
            self.dropped += 1  # v1, v3 or a wrong community: dropped as an agent does
            return None
        key = msg[ce:ce + 1] + msg[re_:pe]
        cache = self.cache.get(s)
        if cache is None:
            cache = self.cache[s] = {}
        body = cache.get(key)
        if body is None:
            self.misses += 1
            body = cache[key] = self._compute(s, ptag, msg, re_, pe)
        else:
            self.hits += 1
        self.answered += 1
        inner = msg[ps:re_] + body
        pdu = b"\xa2" + enc_len(len(inner)) + inner
        rest = msg[start:ce] + pdu
        return b"\x30" + enc_len(len(rest)) + rest

    def _compute(self, s: int, ptag: int, msg: bytes, i: int, end: int) -> bytes:
        _, a, b = read_tlv(msg, i)
        first = int.from_bytes(msg[a:b], "big", signed=True)
        _, a2, b2 = read_tlv(msg, b)
        second = int.from_bytes(msg[a2:b2], "big", signed=True)
        _, ls, le = read_tlv(msg, b2)
        asked = [o for o, _ in decode_varbinds(msg, ls, le)]
        oids, vbs = self.table(s)
        out: list[bytes] = []
        if ptag == 0xA0:  # GET
            for o in asked:
                k = bisect.bisect_left(oids, o)
                out.append(vbs[k] if k < len(oids) and oids[k] == o else tlv(0x30, tlv(0x06, o) + NO_SUCH_INSTANCE))
        elif ptag == 0xA1:  # GETNEXT
            out = [self._next(oids, vbs, o)[1] for o in asked]
        elif ptag == 0xA5:  # GETBULK
            nonrep = max(0, min(first, len(asked)))
            reps = max(0, second)
            out = [self._next(oids, vbs, o)[1] for o in asked[:nonrep]]
            cursors = asked[nonrep:]
            size = sum(map(len, out))
            for _ in range(reps):
                if not cursors:
                    break
                row = []
                ended = 0
                for j, o in enumerate(cursors):
                    o2, vb = self._next(oids, vbs, o)
                    row.append(vb)
                    if o2 is None:
                        ended += 1
                    else:
                        cursors[j] = o2
                rsize = sum(map(len, row))
                if size + rsize > MAX_RESPONSE and len(out) > nonrep:
                    break
                out.extend(row)
                size += rsize
                if ended == len(cursors):
                    break
        else:
            return b"\x02\x01\x05\x02\x01\x00" + tlv(0x30, b"")  # genErr for anything else
        return b"\x02\x01\x00\x02\x01\x00" + tlv(0x30, b"".join(out))

    @staticmethod
    def _next(oids: list[bytes], vbs: list[bytes], o: bytes) -> tuple[bytes | None, bytes]:
        k = bisect.bisect_right(oids, o)
        if k < len(oids):
            return oids[k], vbs[k]
        return None, tlv(0x30, tlv(0x06, o) + END_OF_MIB)


def open_sockets(n: int, port: int) -> tuple[list[socket.socket], int]:
    """One UDP socket per switch on 127.77.x.y, all on one port (0: a free one)."""
    socks: list[socket.socket] = []
    for s in range(n):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((switch_addr(s), port))
        port = sock.getsockname()[1]
        sock.setblocking(False)
        socks.append(sock)
    return socks, port


def serve(agent: Agent, socks: list[socket.socket], control: socket.socket, stop_after: float | None = None) -> None:
    """The agent's loop: epoll over every switch's socket and the control socket."""
    ep = select.epoll()
    by_fd = {sock.fileno(): (k, sock) for k, sock in enumerate(socks)}
    for fd in by_fd:
        ep.register(fd, select.EPOLLIN)
    ep.register(control.fileno(), select.EPOLLIN)
    deadline = time.monotonic() + stop_after if stop_after else None
    while deadline is None or time.monotonic() < deadline:
        for fd, _ in ep.poll(1.0):
            if fd == control.fileno():
                _control(agent, control)
                continue
            k, sock = by_fd[fd]
            while True:
                try:
                    msg, peer = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                out = agent.answer(k, msg)
                if out is not None:
                    try:
                        sock.sendto(out, peer)
                    except OSError:
                        agent.dropped += 1


def _control(agent: Agent, control: socket.socket) -> None:
    msg, peer = control.recvfrom(65535)
    words = msg.decode().split()
    if words[:1] == ["move"]:
        changed = agent.campus.move(float(words[1]), int(words[2]))
        agent.invalidate(changed)
        reply = {"moved": max(1, int(agent.campus.devices * float(words[1]))), "switches_changed": len(changed)}
    elif words[:1] == ["stop"]:
        control.sendto(b"{}", peer)
        raise SystemExit(0)
    else:
        t = os.times()
        reply = {"answered": agent.answered, "hits": agent.hits, "misses": agent.misses, "dropped": agent.dropped,
                 "tables": len(agent.tables), "cpu_s": round(t.user + t.system, 3)}
    control.sendto(json.dumps(reply).encode(), peer)


def ask(port: int, text: str, timeout: float = 60.0) -> dict[str, int | float]:
    """Send a control command to a running agent; returns its JSON answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(text.encode(), ("127.0.0.1", port))
        reply: dict[str, int | float] = json.loads(s.recv(65535))
        return reply


# --- measuring -------------------------------------------------------------------------------


def walk_requests(addr: tuple[str, int], community: str) -> Iterator[bytes]:
    """A whole poll's GETBULK requests (every column the sensor reads), walked like the collector."""
    sys.path.insert(0, str(REPO))
    from collectors.snmp import oids as sensor_oids

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        reqid = 1
        for columns in sensor_oids.TABLES.values():
            roots = [oid_content(c) for c in columns.values()]
            cursors = list(roots)
            while cursors:
                req = request(reqid, community, 0xA5, cursors, reps=20)
                reqid += 1
                sock.sendto(req, addr)
                resp = sock.recv(65535)
                yield req
                _, s, _ = read_tlv(resp, 0)
                _, _, ve = read_tlv(resp, s)
                _, _, ce = read_tlv(resp, ve)
                _, ps, _ = read_tlv(resp, ce)
                i = ps
                for _ in range(3):
                    _, _, i = read_tlv(resp, i)
                _, ls, le = read_tlv(resp, i)
                vbs = decode_varbinds(resp, ls, le)
                nxt = []
                for j, root in enumerate(roots):
                    if cursors[j] is None:  # type: ignore[comparison-overlap]
                        continue
                    last = None
                    for o, v in vbs[j::len(cursors)]:
                        if v[:1] == b"\x82" or not o.startswith(root):
                            last = None
                            break
                        last = o
                    nxt.append(last)
                roots = [r for r, n in zip(roots, nxt, strict=True) if n is not None]
                cursors = [n for n in nxt if n is not None]


def request(reqid: int, community: str, tag: int, oids: list[bytes], reps: int = 0) -> bytes:
    vbl = tlv(0x30, b"".join(tlv(0x30, tlv(0x06, o) + b"\x05\x00") for o in oids))
    pdu = tlv(tag, v_int(reqid) + v_int(0) + v_int(reps) + vbl)
    return tlv(0x30, v_int(1) + v_str(community) + pdu)


def measure(switches: int, seconds: float) -> int:
    """Start the agent in a child process, learn a sample of polls, then replay them flat out."""
    campus = Campus(switches)
    agent = Agent(campus)
    socks, port = open_sockets(campus.switches, 0)
    control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    control.bind(("127.0.0.1", 0))
    cport = control.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        try:
            serve(agent, socks, control)
        finally:
            os._exit(0)
    for sock in socks:
        sock.close()
    try:
        sample = sorted({0, 1, 2, 3, campus.n_access, campus.switches - 1})
        reqs: list[tuple[tuple[str, int], bytes]] = []
        t0 = time.monotonic()
        for s in sample:
            addr = (switch_addr(s), port)
            reqs += [(addr, r) for r in walk_requests(addr, COMMUNITY)]
        print(f"learned {len(reqs)} requests of {len(sample)} whole polls in {time.monotonic() - t0:.1f}s "
              f"(first answers computed and encoded)")
        before = ask(cport, "stats")
        n = _blast(reqs, seconds)
        after = ask(cport, "stats")
        answered = int(after["answered"]) - int(before["answered"])
        cpu = float(after["cpu_s"]) - float(before["cpu_s"])
        print(f"replayed: {answered} responses in {seconds:g}s wall = {answered / seconds:,.0f} responses/s "
              f"(client and agent share the machine's cores; sent {n})")
        print(f"agent CPU: {cpu:.2f}s = {answered / max(cpu, 1e-9):,.0f} responses per agent CPU second "
              f"(goal >= 50,000/s)")
    finally:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"stop", ("127.0.0.1", cport))
        os.waitpid(pid, 0)
    return 0


def _blast(reqs: list[tuple[tuple[str, int], bytes]], seconds: float, window: int = 64) -> int:
    """Send requests with a window of outstanding ones; count what was sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.settimeout(0.5)
    sent = got = 0
    k = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        while sent - got < window:
            addr, r = reqs[k % len(reqs)]
            sock.sendto(r, addr)
            sent += 1
            k += 1
        try:
            sock.recv(65535)
            got += 1
        except TimeoutError:
            got = sent  # lost ones: refill the window
    sock.close()
    return sent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--switches", type=int, default=50)
    ap.add_argument("--port", type=int, default=0, help="UDP port on every 127.77.x.y address (0: a free one)")
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--serve", action="store_true", help="serve until stopped; prints the port first")
    ap.add_argument("--measure", action="store_true", help="measure responses/s (the default)")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    if not CORPUS.is_dir():
        print(f"skipped: the SNMP corpus is not at {CORPUS}")
        return 0
    if not args.serve:
        return measure(args.switches, args.seconds)
    campus = Campus(args.switches)
    agent = Agent(campus)
    socks, port = open_sockets(campus.switches, args.port)
    control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    control.bind(("127.0.0.1", args.control_port))
    print(json.dumps({"port": port, "control_port": control.getsockname()[1]}), flush=True)
    serve(agent, socks, control)
    return 0


if __name__ == "__main__":
    sys.exit(main())
