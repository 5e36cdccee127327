"""The correlator on 12 real switches: each corpus recording (../shared/corpus/snmp) is polled through
the real SNMP collector (snmpsim over a loopback UDP socket) and its snapshot correlated as if that
switch were the only one polled.

Every expectation below is derived from the recording itself (``device.snmprec``: ifType, ifName,
ifPhysAddress, the bridge address, the LLDP and CDP tables) and from what LibreNMS discovered from it
(``librenms-expected.json``: ``fdb``, ``links``), never from the correlator's output:

1. a port whose LLDP/CDP neighbour advertises bridge or router capability is infrastructure, and no
   device sits there with an access-port attachment;
2. a MAC learned on an access port (a physical port with few MACs and no switch behind it) attaches
   to exactly that ifIndex and VLAN; a MAC seen only on uplinks gets a low confidence, flagged;
3. broadcast, multicast, VRRP, HSRP and the switch's own MACs never become devices;
4. vendors resolve through the OUI registry, and the result does not depend on the order in which
   the snapshots arrive or on ingesting one again.

Where the correlator differs from a naive reading on purpose, the test says so and why.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

from collectors.facts import Snapshot
from collectors.snmp import close_engines, poll
from sensor.config import Config, parse_config
from sensor.correlate.engine import Correlator, Output
from sensor.correlate.model import DeviceRecord
from sensor.switches.targets import snmp_target
from tests.snmp import agents
from tests.snmp.conftest import write_secret

DEVICES = agents.corpus_devices()
pytestmark = pytest.mark.skipif(not DEVICES, reason=f"SNMP corpus not found at {agents.CORPUS} (../shared absent)")
T0 = 1_700_000_000.0
THRESHOLD = 32  # [correlation] uplink_mac_threshold, written into every config below
LOW = 0.5  # below: an inferred location, not a port the device is plugged into

# --- the recording, read without the collector -------------------------------------------------

LLDP_REM = "1.0.8802.1.1.2.1.4.1.1."  # lldpRemEntry: .5 chassis id, .9 sysName, .11/.12 capabilities
CDP_CACHE = "1.3.6.1.4.1.9.9.23.1.2.1.1."  # cdpCacheEntry: .6 device id, .8 platform, .9 capabilities
LLDP_CAPS = ("other", "repeater", "bridge", "wlan-ap", "router", "telephone", "docsis", "station",
             "c-vlan", "s-vlan", "tpmr")
SWITCH_CAPS = {"bridge", "router"}
# The issue: an IP phone (or an AP, or a host) speaking LLDP on an access port must not make the port
# an uplink, even when it also says "bridge" (phones bridge their PC port). None does in this corpus.
ENDPOINT_CAPS = {"telephone", "wlan-ap", "station"}
CDP_ROUTER, CDP_BRIDGES, CDP_PHONE = 0x01, 0x02 | 0x04 | 0x08, 0x80
IF_LAG, IF_PROP_VIRTUAL, IF_VLAN = 161, 53, {135, 136}
CISCO_AGG = re.compile(r"^(port-channel|po)\s*\d+$", re.IGNORECASE)


def parse_snmprec(text: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in text.splitlines():
        oid, _, rest = line.partition("|")
        typ, _, value = rest.partition("|")
        rows[oid] = (typ, value)
    return rows


def octets(typ: str, value: str) -> bytes:
    return bytes.fromhex(value) if typ.endswith("x") else value.encode("latin-1")


def mac_of(raw: bytes) -> str | None:
    return raw.hex(":") if len(raw) == 6 else None


def bits_from_text(value: str) -> tuple[bytes, list[int]] | None:
    """The recordings store LLDP capability BITS as net-snmp printed them: the octets in hex, then
    the numbers of the bits set ("28 00 2 4" = bridge, router). The octets and the bit numbers, or
    None when ``value`` is not in that form (the two halves must agree)."""
    tokens = value.split()
    for k in range(len(tokens), 0, -1):
        hexes, nums = tokens[:k], tokens[k:]
        if not all(re.fullmatch(r"[0-9A-Fa-f]{2}", t) for t in hexes) or not all(t.isdigit() for t in nums):
            continue
        raw = bytes.fromhex("".join(hexes))
        set_bits = [i for i in range(len(raw) * 8) if raw[i // 8] & (0x80 >> (i % 8))]
        if set_bits == sorted(int(t) for t in nums):
            return raw, set_bits
    return None


def lldp_caps_as_sent(text: str) -> str:
    """The recording with LLDP capabilities as a switch sends them (binary BITS), not as text.

    Corpus artifact: LibreNMS recorded lldpRemSysCap{Supported,Enabled} as net-snmp's text rendering,
    which snmpsim then serves as an OCTET STRING of ASCII ("28 00 2 4"); a real agent sends the two
    octets 0x28 0x00. The collector decodes the octets it receives as BITS, so the verbatim recording
    turns every neighbour into "bridge, wlan-ap, ..." and, with wlan-ap, into an endpoint. Everything
    else in the recording is served unchanged.
    """
    out = []
    for line in text.splitlines():
        oid, _, rest = line.partition("|")
        typ, _, value = rest.partition("|")
        parsed = bits_from_text(value) if typ == "4" and oid.startswith((LLDP_REM + "11.", LLDP_REM + "12.")) else None
        out.append(f"{oid}|4x|{parsed[0].hex()}" if parsed is not None else line)
    return "\n".join(out) + "\n"


@dataclass
class Recording:
    """What one recording says, read directly from device.snmprec and librenms-expected.json."""

    device: str
    expected: dict[str, Any]
    if_type: dict[int, int] = field(default_factory=dict)
    if_name: dict[int, str] = field(default_factory=dict)
    own: set[str] = field(default_factory=set)  # ifPhysAddress, dot1dBaseBridgeAddress
    infra: dict[int, str] = field(default_factory=dict)  # ifIndex -> which neighbour makes it a switch port
    neighbours: list[tuple[int | None, str, str, set[str]]] = field(default_factory=list)  # port, name, desc, caps

    @classmethod
    def load(cls, device: str) -> Recording:
        rows = parse_snmprec((agents.CORPUS / device / "device.snmprec").read_text(encoding="latin-1"))
        rec = cls(device, json.loads((agents.CORPUS / device / "librenms-expected.json").read_text()))
        lldp: dict[tuple[str, ...], dict[str, tuple[str, str]]] = defaultdict(dict)
        cdp: dict[tuple[str, ...], dict[str, tuple[str, str]]] = defaultdict(dict)
        for oid, (typ, value) in rows.items():
            if oid.startswith("1.3.6.1.2.1.2.2.1.3."):
                rec.if_type[int(oid.rsplit(".", 1)[1])] = int(value)
            elif oid.startswith("1.3.6.1.2.1.31.1.1.1.1."):
                rec.if_name[int(oid.rsplit(".", 1)[1])] = value
            elif oid.startswith("1.3.6.1.2.1.2.2.1.6.") or oid == "1.3.6.1.2.1.17.1.1.0":
                m = mac_of(octets(typ, value))
                if m and m != "00:00:00:00:00:00":
                    rec.own.add(m)
            elif oid.startswith(LLDP_REM):
                col, *index = oid[len(LLDP_REM):].split(".")
                if len(index) == 3:
                    lldp[tuple(index)][col] = (typ, value)
            elif oid.startswith(CDP_CACHE):
                col, *index = oid[len(CDP_CACHE):].split(".")
                cdp[tuple(index)][col] = (typ, value)
        for (_, local, _), cols in sorted(lldp.items()):
            port = int(local) if int(local) in rec.if_type else None  # the local port number is the ifIndex here
            parsed = bits_from_text(cols.get("12", ("4", ""))[1])
            bits = parsed[1] if parsed is not None else []
            caps = {LLDP_CAPS[b] for b in bits if b < len(LLDP_CAPS)}
            name = cols.get("9", ("4", ""))[1]
            desc = octets(*cols.get("10", ("4", ""))).decode("latin-1")
            rec.neighbours.append((port, name, desc, caps))
            if port is not None and caps & SWITCH_CAPS and not caps & ENDPOINT_CAPS:
                rec.infra.setdefault(port, f"LLDP {name} ({', '.join(sorted(caps))})")
        for (ifindex, _), cols in sorted(cdp.items()):
            value = int.from_bytes(octets(*cols.get("9", ("4x", "00")))[-4:], "big")
            caps = ({"router"} if value & CDP_ROUTER else set()) | ({"bridge"} if value & CDP_BRIDGES else set())
            name, platform = cols.get("6", ("4", ""))[1], cols.get("8", ("4", ""))[1]
            rec.neighbours.append((int(ifindex), name, platform, caps | ({"telephone"} if value & CDP_PHONE else set())))
            if caps and not value & CDP_PHONE:
                rec.infra.setdefault(int(ifindex), f"CDP {name} {platform} ({', '.join(sorted(caps))})")
        # LibreNMS's links to a switch: the same neighbours, named by the local ifName.
        by_name = {n: i for i, n in rec.if_name.items()}
        switch_names = {n for _, n, _, caps in rec.neighbours if caps & SWITCH_CAPS and not caps & ENDPOINT_CAPS}
        for link in rec.expected.get("links") or []:
            if link["remote_hostname"] in switch_names and link["ifName"] in by_name:
                rec.infra.setdefault(by_name[link["ifName"]], f"LibreNMS link to {link['remote_hostname']}")
        return rec

    def physical(self, ifindex: int) -> bool:
        t = self.if_type.get(ifindex)
        if t == IF_LAG or t in IF_VLAN:
            return False
        return not (t == IF_PROP_VIRTUAL and CISCO_AGG.match(self.if_name.get(ifindex, "")))


def not_a_device(mac: str) -> bool:
    """The issue's list, written out here rather than imported: broadcast, multicast (I/G bit),
    all-zero, VRRP (IPv4 and IPv6), HSRP v1 and v2."""
    return (mac in ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00") or int(mac[:2], 16) & 1 == 1
            or mac.startswith(("00:00:5e:00:01:", "00:00:5e:00:02:", "00:00:0c:07:ac:", "00:00:0c:9f:f")))


@dataclass
class Expectations:
    """Per MAC, where the recording says it is learned, and what the correlator must make of it."""

    rows: set[tuple[str, int | None, int | None]]  # (mac, ifIndex, VLAN) for every usable FDB row
    macs_on: dict[int | None, set[str]]  # port -> end-device MACs
    access: set[int]
    uplinks: set[int]  # switch neighbour, or more than THRESHOLD MACs
    lags: set[int]
    portless: set[int | None]  # no ifIndex, or a VLAN interface
    special: set[str]  # MACs in the tables that are never devices
    own_seen: set[str]  # the switch's own MACs present in its tables


def expectations(rec: Recording, snap: Snapshot) -> Expectations:
    if rec.expected.get("fdb"):
        # LibreNMS's rows (the collector matches them exactly: tests/snmp/test_corpus.py); plus the rows
        # it drops for having no port, which the sensor keeps.
        raw = {(":".join(f["mac_address"][i:i + 2] for i in range(0, 12, 2)), f["ifIndex"], f["vlan_vlan"])
               for f in rec.expected["fdb"]}
        raw |= {(e.mac, None, e.vlan) for e in snap.fdb if e.ifindex is None}
    else:
        # No LibreNMS FDB for this device: the rows as the collector read them from the recording.
        raw = {(e.mac, e.ifindex, e.vlan) for e in snap.fdb if e.status not in ("self", "mgmt", "invalid")}
    everything = raw | {(a.mac, None, None) for a in snap.arp}
    special = {m for m, _, _ in everything if not_a_device(m)}
    own_seen = {m for m, _, _ in everything if m in rec.own}
    rows = {r for r in raw if not not_a_device(r[0]) and r[0] not in rec.own}
    macs_on: dict[int | None, set[str]] = defaultdict(set)
    for mac, port, _ in rows:
        macs_on[port].add(mac)
    portless = {p for p in macs_on if p is None or rec.if_type.get(p) in IF_VLAN}
    lags = {p for p in macs_on if p is not None and p not in portless and not rec.physical(p)}
    uplinks = {p for p in macs_on if p not in portless and p not in lags and p is not None
               and (p in rec.infra or len(macs_on[p]) > THRESHOLD)}
    access = {p for p in macs_on if p is not None} - portless - lags - uplinks
    return Expectations(rows, macs_on, access, uplinks, lags, portless, special, own_seen)


# --- polling and correlating -------------------------------------------------------------------

def switch_name(device: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", device)


def config_for(devices: list[str], port: int, d: Path) -> Config:
    body = [f'[sensor]\nsite = "corpus"\nstate_dir = "{d / "state"}"\n',
            f"[correlation]\nuplink_mac_threshold = {THRESHOLD}\n"]
    for dev in devices:
        secret = write_secret(d / f"{dev}.community", dev)
        # vlan_indexing = false: a recording is one agent context (see tests/snmp/test_corpus.py).
        body.append(f'[[switch]]\nname = "{switch_name(dev)}"\nhost = "127.0.0.1"\n'
                    f'[switch.snmp]\nversion = "2c"\nport = {port}\ncommunity_file = "{secret}"\n'
                    f'timeout = "5s"\nvlan_indexing = false\n')
    return parse_config("\n".join(body))


@dataclass
class Polled:
    configs: dict[str, Config]  # device -> a config naming that switch only
    snapshots: dict[str, Snapshot]
    everything: Config  # all 12 switches


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polled]:
    """Every recording polled once through collectors.snmp.poll against snmpsim on 127.0.0.1.

    Not the shared ``corpus_agent`` fixture: that one serves the recordings verbatim, and the LLDP
    capabilities must first be put back into the form a switch sends (``lldp_caps_as_sent``).
    """
    root = tmp_path_factory.mktemp("corpus-correlation")
    root.chmod(0o700)
    data = root / "data"
    data.mkdir()
    for dev in DEVICES:
        text = (agents.CORPUS / dev / "device.snmprec").read_text(encoding="latin-1")
        (data / f"{dev}.snmprec").write_text(lldp_caps_as_sent(text), encoding="latin-1")
    with agents.snmpsim(data, DEVICES[0]) as port:
        configs = {dev: config_for([dev], port, root) for dev in DEVICES}

        async def poll_all() -> dict[str, Snapshot]:
            async def one(dev: str) -> tuple[str, Snapshot]:
                sw = configs[dev].switch[0]
                target, creds = snmp_target(sw)
                res = await poll(sw.name, target, creds, vlan_indexing=sw.snmp.vlan_indexing if sw.snmp else None,
                                 clock=lambda: T0)
                return dev, res.snapshot
            try:
                return dict(await asyncio.gather(*(one(d) for d in DEVICES)))
            finally:
                close_engines()

        snapshots = asyncio.run(poll_all())
    yield Polled(configs, snapshots, config_for(DEVICES, port, root))


@dataclass
class Correlated:
    rec: Recording
    snap: Snapshot
    exp: Expectations
    out: Output
    corr: Correlator

    @property
    def records(self) -> dict[str, DeviceRecord]:
        return self.out.records


_cache: dict[str, Correlated] = {}


def correlated(polled: Polled, device: str) -> Correlated:
    if device not in _cache:
        snap = polled.snapshots[device]
        assert snap.errors == (), snap.errors
        corr = Correlator.from_config(polled.configs[device])
        out = corr.ingest([snap], T0)
        rec = Recording.load(device)
        _cache[device] = Correlated(rec, snap, expectations(rec, snap), out, corr)
    return _cache[device]


# --- 1. infrastructure ports ---------------------------------------------------------------------

# Ports where the recording's neighbour is a switch or router, from the LLDP/CDP tables (checked by
# hand against the recordings): every one must be infrastructure.
INFRA_COUNT = {
    "arista_eos": 1,  # Ethernet48: 4900M-CORE (bridge, router). Ethernet47, see below.
    "arubaos-cx_10.10": 1,  # 1/1/14: XXgw01 (bridge, router); 1/1/1 and 1/1/2 are Aruba APs (wlan-ap)
    "ciscosb_sg550x-8f8t": 11,  # every port but te1/0/5 (a server NIC: station only)
    "dlink_dgs-3620-28sc": 10,
    "dnos": 4,  # fortyGigE 1/49, 1/53, 1/54 and ManagementEthernet 1/1 (abc-cs2, abc-ag7)
    "edgecos_es3510ma": 0,
    "edgeswitch_usw-flex-xg": 1,
    "ios_2960x": 7,  # Gi1/0/52, Gi3/0/52 (WS-C3850) and five AIR-AP2702I (CDP: trans-bridge)
    "junos_rpm": 2,
    "nxos_n3k-3064pq": 2,  # Ethernet1/49 (LLDP and CDP) and mgmt0 (CDP)
    "procurve_2520": 0,
    "routeros": 0,  # its LLDP neighbours come with local port 0: the switch does not say where
}


@pytest.mark.parametrize("device", DEVICES)
def test_ports_facing_switches_are_infrastructure(device: str, polled: Polled) -> None:
    c = correlated(polled, device)
    infra = c.rec.infra
    assert len(infra) == INFRA_COUNT[device], infra
    view = c.corr.view
    assert view is not None
    sw = switch_name(device)
    for port, why in infra.items():
        role = view.ports.get((sw, port))
        assert role is not None and role.infra, (c.rec.if_name.get(port), why)
        assert role.phone is None
        for r in c.records.values():
            a = r.attachment
            if a is not None and a.ifindex == port:
                # No device is plugged in there: whatever is learned sits behind that switch.
                assert a.confidence < LOW and "edge switch not polled" in a.flags, (r.mac, a)
    if device == "arista_eos":
        # Deliberate: Ethernet47's neighbour is a Catalyst 3750E (sysName 3750E-Estudio1, sysDesc
        # "Cisco IOS Software, C3750E ...") whose *enabled* capabilities are empty ("00 00"; supported:
        # bridge, router). The sensor reads lldpRemSysCapEnabled only and guesses nothing from names,
        # so with 10 MACs (under the threshold) the port stays an access port; its MACs get the
        # multi-MAC confidence (0.7), not the single-device one.
        role = view.ports[(sw, 47)]
        assert not role.infra and role.mac_count == len(c.exp.macs_on[47]) == 10
        assert all(c.records[m].attachment.confidence <= 0.7 for m in c.exp.macs_on[47])  # type: ignore[union-attr]


# --- 2. attachments --------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_macs_attach_where_the_recording_puts_them(device: str, polled: Polled) -> None:
    c = correlated(polled, device)
    e = c.exp
    sw = switch_name(device)
    ports_of: dict[str, set[int | None]] = defaultdict(set)
    vlans: dict[tuple[str, int | None], set[int | None]] = defaultdict(set)
    for mac, port, vlan in e.rows:
        ports_of[mac].add(port)
        vlans[(mac, port)].add(vlan)

    # Exactly the end-device MACs of the tables become devices: none missing, none invented.
    assert set(c.records) == set(ports_of)
    checked = 0
    for mac, ports in sorted(ports_of.items()):
        r = c.records[mac]
        a = r.attachment
        assert a is not None and a.switch == sw and r.present
        on_access = ports & e.access
        if on_access:
            # An access port beats any uplink the MAC is also learned on.
            assert a.ifindex in on_access, (mac, a)
            assert a.vlan in vlans[(mac, a.ifindex)], (mac, a)
            assert a.port == c.rec.if_name[a.ifindex]
            assert a.confidence >= 0.7 and not a.flags, (mac, a)
            if len(e.macs_on[a.ifindex]) == 1:
                assert a.confidence >= 0.95  # the only MAC on its port
            checked += 1
        elif ports & e.uplinks:
            assert a.ifindex in ports & e.uplinks, (mac, a)
            assert a.confidence < LOW and "edge switch not polled" in a.flags, (mac, a)
            assert any("seen only on infrastructure ports" in x for x in a.evidence)
        elif ports & e.lags:
            # Deliberate: no recording has dot3adAggPortTable, so which members an aggregate has,
            # and whether a switch or a bonded server is behind it, is unknown: low confidence,
            # flagged as an aggregate rather than as "edge switch not polled".
            assert a.ifindex in ports & e.lags and a.confidence < LOW, (mac, a)
            assert "seen only on a link aggregate" in a.flags
        else:
            # Learned with no physical port: bridge port 0 / without an ifIndex (the switch's CPU
            # entries, Dell OS's port-channel bridge ports) or a VLAN interface (Juniper SRX maps its
            # bridge ports to vlan.N). The sensor keeps the device, placed on the switch only.
            assert ports <= e.portless and a.confidence < LOW and "port unknown" in a.flags, (mac, a)
    if device in ("procurve_2520", "edgecos_es3510ma"):
        # The two recordings for which LibreNMS lists the FDB: every row it puts on an access port.
        theirs = {(m, p) for m, p, _ in e.rows if p in e.access}
        assert checked == len({m for m, _ in theirs}) > 0


def test_procurve_2520_access_ports_and_uplink() -> None:
    """LibreNMS's FDB for the ProCurve: 12 ports with one MAC each and port 28 with 729 rows."""
    rec = Recording.load("procurve_2520")
    per_port: dict[int, set[str]] = defaultdict(set)
    for f in rec.expected["fdb"]:
        per_port[f["ifIndex"]].add(f["mac_address"])
    singles = sorted(p for p, m in per_port.items() if len(m) == 1)
    assert singles == [3, 5, 7, 8, 9, 10, 11, 12, 13, 17, 18, 23]
    assert max(per_port, key=lambda p: len(per_port[p])) == 28 and len(per_port[28]) > THRESHOLD


@pytest.mark.parametrize("device", ["procurve_2520", "edgecos_es3510ma"])
def test_librenms_fdb_rows_on_access_ports(device: str, polled: Polled) -> None:
    c = correlated(polled, device)
    per_port: dict[int, set[str]] = defaultdict(set)
    for f in c.rec.expected["fdb"]:
        per_port[f["ifIndex"]].add(f["mac_address"])
    for f in c.rec.expected["fdb"]:
        mac = ":".join(f["mac_address"][i:i + 2] for i in range(0, 12, 2))
        if not_a_device(mac):
            assert mac not in c.records  # ProCurve: VRRP 00:00:5e:00:01:01 learned on port 28
            continue
        a = c.records[mac].attachment
        assert a is not None
        if len(per_port[f["ifIndex"]]) <= THRESHOLD:
            assert (a.ifindex, a.vlan) == (f["ifIndex"], f["vlan_vlan"])
            assert a.confidence >= 0.85
        elif all(mac.replace(":", "") not in m for p, m in per_port.items() if p != f["ifIndex"]):
            # ProCurve port 28: 729 MACs and no LLDP on this switch; the threshold is the only
            # evidence, so those devices are behind an edge switch that is not polled.
            assert a.ifindex == f["ifIndex"] and a.confidence < LOW and "edge switch not polled" in a.flags


# --- 3. never devices ----------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_special_and_own_macs_are_never_devices(device: str, polled: Polled) -> None:
    c = correlated(polled, device)
    assert not set(c.records) & c.exp.special
    assert not set(c.records) & c.rec.own
    assert not {r.mac for r in c.records.values()} & {n.chassis_id for n in c.snap.lldp if n.chassis_id in c.rec.own}


def test_the_corpus_has_macs_that_must_be_filtered(polled: Polled) -> None:
    """The checks above are not vacuous: the tables hold VRRP, multicast and the switches' own MACs."""
    special: set[str] = set()
    own: set[str] = set()
    for dev in DEVICES:
        c = correlated(polled, dev)
        special |= c.exp.special
        own |= c.exp.own_seen
    assert any(m.startswith("00:00:5e:00:01:") for m in special)  # VRRP (Dell OS, VLAN 99)
    assert any(int(m[:2], 16) & 1 for m in special)  # multicast
    assert len(own) >= 5


# --- 4. vendors, order, repetition -----------------------------------------------------------------

# (device, MAC learned there, what the recording says the thing on that port is, a word its IEEE
# registration must contain). The first three are named by their own LLDP/CDP; the rest are OUIs
# whose owner is not in doubt.
VENDORS = [
    # Aruba is Hewlett Packard Enterprise's: IEEE registers Aruba's blocks to HPE.
    ("arubaos-cx_10.10", "cc:88:c7:c8:21:da", "LLDP on 1/1/1: ArubaOS (MODEL: 515), chassis cc:88:c7", "hewlett packard"),
    ("arubaos-cx_10.10", "94:64:24:c0:7b:25", "LLDP on 1/1/2: ArubaOS (MODEL: 635), chassis 94:64:24", "hewlett packard"),
    ("ios_2960x", "64:f6:9d:b1:e4:4c", "CDP on Gi1/0/3: cisco AIR-AP2702I-UXK9", "cisco"),
    ("arista_eos", "00:1b:21:bb:e6:f0", "an Intel NIC (LLDP chassis = the MAC) on Ethernet1", "intel"),
    ("junos_rpm", "00:0c:29:09:d6:c8", "a VMware virtual machine", "vmware"),
]


@pytest.mark.parametrize(("device", "mac", "what", "word"), VENDORS, ids=[f"{d}-{m}" for d, m, _, _ in VENDORS])
def test_vendors_from_the_oui_registry(device: str, mac: str, what: str, word: str, polled: Polled) -> None:
    c = correlated(polled, device)
    r = c.records[mac]
    assert r.vendor is not None and word in r.vendor.casefold(), (what, r.vendor)
    assert r.oui is not None and mac.startswith(r.oui.split("/")[0][:8])
    assert not r.locally_administered


def test_randomised_macs_are_kept_and_flagged(polled: Polled) -> None:
    """Clients behind the Aruba AP (1/1/1) use private MACs: devices all the same, flagged."""
    c = correlated(polled, "arubaos-cx_10.10")
    private = [m for m in c.exp.macs_on[1] if int(m[:2], 16) & 2]
    assert len(private) >= 3
    for m in private:
        r = c.records[m]
        assert r.locally_administered and any("locally administered" in f for f in r.flags)
        assert r.attachment is not None and r.attachment.ifindex == 1


def _placement(records: dict[str, DeviceRecord]) -> dict[str, tuple[Any, ...]]:
    return {m: (r.attachment.switch, r.attachment.ifindex, r.attachment.vlan, r.attachment.confidence,
                r.attachment.flags, r.vendor, r.classification.device_class) if r.attachment else None
            for m, r in records.items()}


def test_repeated_ingestion_changes_nothing(polled: Polled) -> None:
    for dev in DEVICES:
        c = correlated(polled, dev)
        again = msgspec.structs.replace(c.snap, taken_at=T0 + 900)
        fresh = Correlator.from_config(polled.configs[dev])
        first = fresh.ingest([c.snap], T0)
        second = fresh.ingest([again], T0 + 900)
        third = fresh.ingest([again], T0 + 901)
        assert second.events == [] and third.events == [], dev
        assert second.devices == [] and third.devices == [], dev  # nothing to publish again
        assert _placement(first.records) == _placement(second.records) == _placement(third.records) \
            == _placement(c.records), dev
        assert len(first.events) == len(first.records)  # one "appeared" each, nothing else
        assert {e.event for e in first.events} <= {"appeared"}


def test_all_switches_in_any_order(polled: Polled) -> None:
    """All twelve in one correlator: one batch, one by one forwards and backwards, give the same
    result; and a MAC learned on only one switch is placed as when that switch is polled alone."""
    snaps = [polled.snapshots[d] for d in DEVICES]
    results = []
    for order in (snaps, snaps[::-1], snaps[1::2] + snaps[::2]):
        batch = Correlator.from_config(polled.everything).ingest(order, T0)
        one_by_one = Correlator.from_config(polled.everything)
        for s in order:
            out = one_by_one.ingest([s], T0)
        results += [_placement(batch.records), _placement(out.records)]
    for i, r in enumerate(results):
        diff = {m: (r.get(m), results[0].get(m)) for m in set(r) | set(results[0]) if r.get(m) != results[0].get(m)}
        assert not diff, (i, list(diff.items())[:5], len(diff))
    union = results[0]
    where: dict[str, set[str]] = defaultdict(set)
    for dev in DEVICES:
        for mac in correlated(polled, dev).records:
            where[mac].add(dev)
    for mac, devs in where.items():
        if len(devs) == 1:
            (dev,) = devs
            assert union[mac] == _placement(correlated(polled, dev).records)[mac], mac
