"""Pure decoding: walked SNMP columns -> typed facts.

No I/O here. The walker hands over plain Python values: every column is a mapping of
the OID index (the sub-identifiers after the column OID) to ``bytes`` (OCTET STRING,
IpAddress), ``int`` (INTEGER, counters, gauges, TimeTicks) or ``str`` (a dotted OBJECT
IDENTIFIER). Agents lie, loop and send binary junk: every decoder here skips what it
cannot understand instead of failing the whole table, and bounds every string.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterable, Mapping, Sequence

import msgspec

from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor, SwitchInfo

OID = tuple[int, ...]
Value = bytes | int | str
Column = dict[OID, Value]
Table = Mapping[str, Column]

MAX_NAME = 255
MAX_TEXT = 2048

# --- scalars ----------------------------------------------------------------------


def text(value: Value | None, limit: int = MAX_NAME, *, multiline: bool = False) -> str:
    """A DisplayString as text: UTF-8 (Latin-1 if that fails), NULs and padding removed, bounded.

    Control characters become spaces; with ``multiline`` line breaks are kept (as "\\n").
    """
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        s = value
    else:
        try:
            s = value.decode("utf-8")
        except UnicodeDecodeError:
            s = value.decode("latin-1")
    s = s.replace("\x00", "").strip()
    if multiline:
        lines = [text(line, limit) for line in s.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        return sys.intern("\n".join(lines).strip()[:limit])
    if not s.isprintable():
        s = "".join(c if c.isprintable() else " " for c in s)
        s = " ".join(s.split())
    # One object per distinct text: a campus repeats its port names, descriptions and LLDP
    # inventories thousands of times, and the correlator keeps every switch's latest snapshot.
    return sys.intern(s[:limit])


def hex_string(value: bytes) -> str:
    return ":".join(f"{b:02x}" for b in value)


def format_mac(raw: bytes) -> str:
    """Six octets as ``aa:bb:cc:dd:ee:ff``."""
    if len(raw) != 6:
        raise ValueError(f"a MAC address has 6 octets, got {len(raw)}")
    # Interned: one device's MAC is in its access switch's, every uplink's and the routers' tables,
    # and keys the correlator's state; one string object for all of them.
    return sys.intern(raw.hex(":"))


_MAC_TEXT = re.compile(r"^[0-9a-fA-F]{1,2}([:\- ])(?:[0-9a-fA-F]{1,2}\1){4}[0-9a-fA-F]{1,2}$")
_MAC_DOTTED = re.compile(r"^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$")
_MAC_BARE = re.compile(r"^[0-9a-fA-F]{12}$")


def parse_mac(value: Value | None) -> str | None:
    """A MAC from six raw octets or from text ("aa:bb:..", "aa-bb-..", "aabb.ccdd.eeff", "AABBCCDDEEFF").

    Returns None for anything else, including the all-zero address.
    """
    if value is None or isinstance(value, int):
        return None
    raw: bytes | None = None
    if isinstance(value, bytes) and len(value) == 6:
        raw = value
    else:
        s = value if isinstance(value, str) else value.decode("latin-1")
        s = s.strip().strip("\x00").strip()
        if _MAC_TEXT.match(s):
            raw = bytes(int(p, 16) for p in re.split(r"[:\- ]", s))
        elif _MAC_DOTTED.match(s) or _MAC_BARE.match(s):
            raw = bytes.fromhex(s.replace(".", ""))
    if raw is None or raw == b"\x00" * 6:
        return None
    return format_mac(raw)


def mac_from_index(index: OID) -> str | None:
    """The MAC address encoded as the last six sub-identifiers of a table index."""
    if len(index) < 6 or any(not 0 <= b <= 255 for b in index[-6:]):
        return None
    return format_mac(bytes(index[-6:]))


def ip_from_bytes(raw: bytes) -> str | None:
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    return None


def parse_inet_address(index: OID, pos: int, addr_type: int) -> tuple[str | None, int]:
    """Read a length-prefixed InetAddress at ``pos`` of an index; returns (address, next position).

    Types 1/3 are IPv4 (3 with a 4-octet zone), 2/4 IPv6 (4 with a zone). Agents that
    leave out the length octet (as if the index were IMPLIED) are accepted too.
    """
    rest = index[pos:]
    want = {1: 4, 2: 16, 3: 8, 4: 20}.get(addr_type)
    if want is None or not rest:
        return None, len(index)
    if rest[0] == want and len(rest) >= want + 1:
        body, nxt = rest[1 : 1 + want], pos + 1 + want
    elif len(rest) == want:
        body, nxt = rest, len(index)
    else:
        return None, len(index)
    if any(not 0 <= b <= 255 for b in body):
        return None, nxt
    return ip_from_bytes(bytes(body[:16] if want >= 16 else body[:4])), nxt


# --- system -----------------------------------------------------------------------


def decode_system(switch: str, scalars: Mapping[str, Value]) -> SwitchInfo:
    uptime = scalars.get("sysUpTime")
    oid_value = scalars.get("sysObjectID")
    return SwitchInfo(
        switch=switch,
        sys_name=text(scalars.get("sysName")),
        sys_descr=text(scalars.get("sysDescr"), MAX_TEXT, multiline=True),
        sys_object_id=oid_value if isinstance(oid_value, str) else "",
        sys_uptime=uptime if isinstance(uptime, int) else None,
        base_mac=parse_mac(scalars.get("dot1dBaseBridgeAddress")),
        lldp_chassis_id=format_lldp_id(
            _int(scalars.get("lldpLocChassisIdSubtype")), scalars.get("lldpLocChassisId"),
            mac_subtype=CHASSIS_MAC, net_subtype=CHASSIS_NETADDR) or None,
    )


# --- interfaces and LAG -------------------------------------------------------------


def _int(value: Value | None) -> int | None:
    return value if isinstance(value, int) else None


def lag_membership(table: Table) -> dict[int, int]:
    """Member ifIndex -> aggregate ifIndex, from dot3adAggPortAttachedAggID (0 = not attached)."""
    out: dict[int, int] = {}
    for index, agg in table.get("dot3adAggPortAttachedAggID", {}).items():
        if len(index) == 1 and isinstance(agg, int) and agg > 0 and agg != index[0]:
            out[index[0]] = agg
    return out


def decode_interfaces(switch: str, table: Table, lags: Mapping[int, int] | None = None) -> list[Interface]:
    """ifTable + ifXTable rows as Interface facts, ordered by ifIndex."""
    lags = lags or {}
    indexes: set[int] = set()
    for col in table.values():
        indexes.update(i[0] for i in col if len(i) == 1)
    descr, name, alias = table.get("ifDescr", {}), table.get("ifName", {}), table.get("ifAlias", {})
    if_type, oper = table.get("ifType", {}), table.get("ifOperStatus", {})
    high, low, phys = table.get("ifHighSpeed", {}), table.get("ifSpeed", {}), table.get("ifPhysAddress", {})
    out = []
    for ifindex in sorted(indexes):
        k = (ifindex,)
        d = text(descr.get(k))
        n = text(name.get(k)) or d
        speed: int | None = None
        hs, ls = _int(high.get(k)), _int(low.get(k))
        if hs:
            speed = hs
        elif ls is not None and ls < 4_294_967_295:
            speed = ls // 1_000_000
        elif hs is not None:
            speed = hs
        status = _int(oper.get(k))
        raw_phys = phys.get(k)
        out.append(
            Interface(
                switch=switch,
                ifindex=ifindex,
                name=n,
                descr=d,
                alias=text(alias.get(k)),
                if_type=_int(if_type.get(k)),
                speed=speed,
                oper_up=None if status is None else status == 1,
                phys_address=parse_mac(raw_phys) if isinstance(raw_phys, bytes) else None,
                lag_ifindex=lags.get(ifindex),
            )
        )
    return out


# --- bridge forwarding tables -------------------------------------------------------

FDB_STATUS = {1: "other", 2: "invalid", 3: "learned", 4: "self", 5: "mgmt"}


def bridge_port_map(table: Table) -> dict[int, int]:
    """dot1dBasePort -> ifIndex."""
    return {
        i[0]: v
        for i, v in table.get("dot1dBasePortIfIndex", {}).items()
        if len(i) == 1 and isinstance(v, int) and v > 0
    }


def vlans_by_fdb_id(table: Table) -> dict[int, set[int]]:
    """FDB id -> VLAN ids using it, from dot1qVlanFdbId (index: TimeMark, VlanIndex)."""
    out: dict[int, set[int]] = {}
    for index, fdb_id in table.get("dot1qVlanFdbId", {}).items():
        if len(index) >= 1 and isinstance(fdb_id, int):
            out.setdefault(fdb_id, set()).add(index[-1])
    return out


# Vendors documented to number bridge ports as their ifIndex: only for them is a bridge
# port number taken as an ifIndex when the agent gives no dot1dBasePortIfIndex for it.
# Enterprise prefix of sysObjectID -> what says so.
PORT_IS_IFINDEX: dict[str, str] = {
    "1.3.6.1.4.1.2636.": "Junos implements no dot1dBasePortTable and reports dot1dTpFdbPort as the ifIndex "
                         "(as LibreNMS's recording of a Junos switch shows)",
}
# TP-Link JetStream reports bridge port N for the port named "gigabitEthernet 1/0/N" (LibreNMS maps its
# dot1qTpFdbPort by that name).
JETSTREAM = "1.3.6.1.4.1.11863."
HUAWEI = "1.3.6.1.4.1.2011."
_UNIT_PORT = re.compile(r"(?:^|[^\d/])1/0/(\d+)$")


def port_is_ifindex(sys_object_id: str) -> str | None:
    """Why this vendor's bridge port numbers are ifIndexes, or None when nothing says so."""
    oid = sys_object_id.strip(".") + "."
    return next((why for prefix, why in PORT_IS_IFINDEX.items() if oid.startswith(prefix)), None)


def ports_by_name(sys_object_id: str, interfaces: Iterable[Interface]) -> dict[int, int]:
    """Bridge port -> ifIndex for vendors that number bridge ports by the port's name (pure)."""
    if not (sys_object_id.strip(".") + ".").startswith(JETSTREAM):
        return {}
    out: dict[int, int] = {}
    for i in interfaces:
        for name in (i.name, i.descr):
            m = _UNIT_PORT.search(name.replace(" ", ""))
            if m:
                out.setdefault(int(m.group(1)), i.ifindex)
                break
    return out


class PortResolver:
    """Bridge port -> ifIndex, from dot1dBasePortIfIndex, else from what the vendor documents.

    A port the agent does not map is resolved by the vendor's naming (``by_name``), or taken
    as its ifIndex only for a vendor documented to number ports that way (``port_is_ifindex``,
    the reason). Anything else stays unmapped (None): counted in ``unmapped``, never guessed.
    Port 0 means "no port" in both bridge MIBs (the switch's own addresses).
    """

    def __init__(self, port_map: Mapping[int, int], ifindexes: Iterable[int], *,
                 port_is_ifindex: str | None = None, by_name: Mapping[int, int] | None = None) -> None:
        self.port_map = port_map
        self.ifindexes = set(ifindexes)
        self.port_is_ifindex = port_is_ifindex
        self.by_name = by_name or {}
        self.assumed = False  # some port was taken as its ifIndex
        self.named = False  # some port was mapped by its name
        self.unmapped: set[int] = set()

    def __call__(self, port: int) -> int | None:
        if port <= 0:
            return None
        mapped = self.port_map.get(port)
        if mapped is not None:
            return mapped
        if port in self.by_name:
            self.named = True
            return self.by_name[port]
        if self.port_is_ifindex and port in self.ifindexes:
            self.assumed = True
            return port
        self.unmapped.add(port)
        return None

    def notes(self) -> list[str]:
        out: list[str] = []
        if self.assumed:
            out.append(f"bridge port numbers without dot1dBasePortIfIndex taken as ifIndex: {self.port_is_ifindex}")
        if self.named:
            out.append("bridge ports without dot1dBasePortIfIndex mapped by port name (TP-Link JetStream numbers "
                       "bridge port N as 1/0/N)")
        if self.unmapped:
            ports = ", ".join(str(p) for p in sorted(self.unmapped)[:10])
            out.append(f"bridge port(s) {ports}{' ...' if len(self.unmapped) > 10 else ''} have no ifIndex "
                       "mapping: their forwarding rows are kept without a port")
        return out


def decode_huawei_fdb(switch: str, table: Table, ifindexes: Iterable[int]) -> list[FdbEntry]:
    """HUAWEI-L2MAM-MIB hwDynFdbPort (index: MAC, VLAN, VSI...; value: ifIndex) -> FdbEntry (pure)."""
    known = set(ifindexes)
    out: list[FdbEntry] = []
    for index, value in table.get("hwDynFdbPort", {}).items():
        if len(index) < 7 or not isinstance(value, int):
            continue
        mac = mac_from_index(index[:6])
        if mac is None:
            continue
        vlan = index[6] if 1 <= index[6] <= 4094 else None
        out.append(FdbEntry(switch=switch, ifindex=value if value in known else None, vlan=vlan, mac=mac))
    out.sort(key=lambda e: (e.vlan or 0, e.mac))
    return out


def fill_ports(rows: list[FdbEntry], vendor: list[FdbEntry]) -> list[FdbEntry]:
    """Standard rows without a port take it from the vendor's table (same MAC and VLAN); with no
    standard rows at all, the vendor's rows are the table (pure)."""
    if not rows:
        return vendor
    by_key = {(v.mac, v.vlan): v.ifindex for v in vendor if v.ifindex is not None}
    return [msgspec.structs.replace(r, ifindex=by_key.get((r.mac, r.vlan))) if r.ifindex is None
            and by_key.get((r.mac, r.vlan)) is not None else r for r in rows]


def decode_qbridge_fdb(
    switch: str, table: Table, ports: PortResolver, fdb_vlans: Mapping[int, set[int]]
) -> tuple[list[FdbEntry], list[str]]:
    """dot1qTpFdbTable (index: FDB id, MAC) -> FdbEntry; VLAN from dot1qVlanFdbId, else the FDB id."""
    notes: list[str] = []
    ambiguous: set[int] = set()
    port_col, status_col = table.get("dot1qTpFdbPort", {}), table.get("dot1qTpFdbStatus", {})
    out = []
    for index in port_col.keys() | status_col.keys():
        if len(index) != 7:
            continue
        mac = mac_from_index(index)
        if mac is None:
            continue
        fdb_id = index[0]
        vlans = fdb_vlans.get(fdb_id)
        vlan: int | None
        if not vlans:
            vlan = fdb_id if 1 <= fdb_id <= 4094 else None
        elif len(vlans) == 1:
            vlan = next(iter(vlans))
        else:
            vlan = None
            ambiguous.add(fdb_id)
        entry = _fdb_entry(switch, mac, vlan, port_col.get(index), status_col.get(index), ports)
        if entry is not None:
            out.append(entry)
    if ambiguous:
        ids = ", ".join(str(i) for i in sorted(ambiguous))
        notes.append(f"FDB ids {ids} are shared by several VLANs (shared VLAN learning): their VLAN is unknown")
    out.sort(key=lambda e: (e.vlan or 0, e.mac))
    return out, notes



def _fdb_entry(switch: str, mac: str, vlan: int | None, port: Value | None, status: Value | None,
               ports: PortResolver) -> FdbEntry | None:
    """One forwarding row of either bridge MIB; None for status invalid(2)."""
    code = _int(status)
    if code == 2:
        return None
    bridge_port = _int(port)
    return FdbEntry(
        switch=switch,
        ifindex=ports(bridge_port) if bridge_port is not None else None,
        vlan=vlan,
        mac=mac,
        status=FDB_STATUS.get(code or 3, "other"),
    )

def decode_bridge_fdb(switch: str, table: Table, ports: PortResolver, vlan: int | None = None) -> list[FdbEntry]:
    """dot1dTpFdbTable (index: MAC) -> FdbEntry; ``vlan`` when walked in a per-VLAN context."""
    port_col, status_col = table.get("dot1dTpFdbPort", {}), table.get("dot1dTpFdbStatus", {})
    out = []
    for index in port_col.keys() | status_col.keys():
        if len(index) != 6:
            continue
        mac = mac_from_index(index)
        if mac is None:
            continue
        entry = _fdb_entry(switch, mac, vlan, port_col.get(index), status_col.get(index), ports)
        if entry is not None:
            out.append(entry)
    out.sort(key=lambda e: e.mac)
    return out


# --- ARP and IPv6 neighbours -----------------------------------------------------------


def decode_ip_net_to_physical(switch: str, table: Table) -> list[ArpEntry]:
    """ipNetToPhysicalTable (index: ifIndex, InetAddressType, InetAddress) -> ArpEntry, IPv4 and IPv6."""
    phys, kind = table.get("ipNetToPhysicalPhysAddress", {}), table.get("ipNetToPhysicalType", {})
    out = []
    for index, raw in phys.items():
        if len(index) < 3 or not isinstance(raw, bytes) or kind.get(index) == 2:
            continue
        ip, _ = parse_inet_address(index, 2, index[1])
        mac = parse_mac(raw)
        if ip is None or mac is None:
            continue
        out.append(ArpEntry(router=switch, ifindex=index[0] or None, ip=ip, mac=mac))
    return out


def decode_ip_net_to_media(switch: str, table: Table) -> list[ArpEntry]:
    """ipNetToMediaTable (index: ifIndex, IPv4 address) -> ArpEntry."""
    phys, kind = table.get("ipNetToMediaPhysAddress", {}), table.get("ipNetToMediaType", {})
    out = []
    for index, raw in phys.items():
        if len(index) != 5 or not isinstance(raw, bytes) or kind.get(index) == 2:
            continue
        if any(not 0 <= b <= 255 for b in index[1:]):
            continue
        mac = parse_mac(raw)
        if mac is None:
            continue
        ip = str(ipaddress.IPv4Address(bytes(index[1:])))
        out.append(ArpEntry(router=switch, ifindex=index[0] or None, ip=ip, mac=mac))
    return out


def merge_arp(physical: Sequence[ArpEntry], media: Sequence[ArpEntry]) -> list[ArpEntry]:
    """ipNetToPhysicalTable first; ipNetToMediaTable adds the IPv4 rows it lacks (many agents fill only one)."""
    seen = {(e.ifindex, e.ip) for e in physical}
    out = list(physical) + [e for e in media if (e.ifindex, e.ip) not in seen]
    out.sort(key=lambda e: (ipaddress.ip_address(e.ip).version, ipaddress.ip_address(e.ip), e.ifindex or 0))
    return out


# --- LLDP -------------------------------------------------------------------------------

LLDP_CAPABILITIES = (
    "other", "repeater", "bridge", "wlan-ap", "router", "telephone", "docsis", "station",
    "c-vlan", "s-vlan", "tpmr",
)
# LLDP-MIB LldpChassisIdSubtype / LldpPortIdSubtype values that carry a MAC or a network address.
CHASSIS_MAC, CHASSIS_NETADDR = 4, 5
PORT_ALIAS, PORT_MAC, PORT_NETADDR, PORT_NAME, PORT_LOCAL = 1, 3, 4, 5, 7


def bits(raw: Value | None, names: Sequence[str]) -> tuple[str, ...]:
    """An SNMP BITS value (first octet's high bit = bit 0) as names."""
    if not isinstance(raw, bytes):
        return ()
    out = []
    for i, name in enumerate(names):
        if i // 8 < len(raw) and raw[i // 8] & (0x80 >> (i % 8)):
            out.append(name)
    return tuple(out)


def _network_address(raw: bytes) -> str | None:
    # IANA AddressFamilyNumbers octet, then the address.
    if (len(raw) == 5 and raw[0] == 1) or (len(raw) == 17 and raw[0] == 2):
        return ip_from_bytes(raw[1:])
    return None


def format_lldp_id(subtype: int | None, raw: Value | None, *, mac_subtype: int, net_subtype: int) -> str:
    """A chassis or port ID: a MAC or address where the subtype says so, else text (hex when binary)."""
    if raw is None:
        return ""
    if isinstance(raw, (int, str)):
        return text(raw)
    if subtype == mac_subtype:
        mac = parse_mac(raw)
        if mac:
            return mac
    if subtype == net_subtype:
        addr = _network_address(raw)
        if addr:
            return addr
    stripped = raw.rstrip(b"\x00")
    try:
        s = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return hex_string(raw[:64])
    if not s.isprintable():
        return hex_string(raw[:64])
    return s.strip()[:MAX_NAME]


class LocalPortMap:
    """lldpRemLocalPortNum -> ifIndex, through lldpLocPortTable and the interface table.

    The port number is an index of the LLDP agent's own, not necessarily an ifIndex. It
    is matched by the local port ID (and its subtype) to ifName/ifDescr/ifAlias or
    ifPhysAddress, then by a numeric local ID that is an ifIndex, then by the port
    description; only when nothing matches is the number taken as an ifIndex, and
    ``notes`` says which ports were mapped that way.
    """

    def __init__(self, loc: Table, interfaces: Sequence[Interface]) -> None:
        self.subtypes = loc.get("lldpLocPortIdSubtype", {})
        self.ids = loc.get("lldpLocPortId", {})
        self.descs = loc.get("lldpLocPortDesc", {})
        self.ifindexes = {i.ifindex for i in interfaces}
        self.by_name = _unique((i.name, i.ifindex) for i in interfaces if i.name)
        self.by_descr = _unique((i.descr, i.ifindex) for i in interfaces if i.descr)
        self.by_alias = _unique((i.alias, i.ifindex) for i in interfaces if i.alias)
        self.by_mac = _unique((i.phys_address, i.ifindex) for i in interfaces if i.phys_address)
        self.by_number: list[int] = []
        self.unmapped: list[int] = []
        self._cache: dict[int, int | None] = {}

    def _by_text(self, s: str, order: Sequence[dict[str, int]]) -> int | None:
        for table in order:
            if s in table:
                return table[s]
        folded = s.casefold()
        for table in order:
            hits = {v for k, v in table.items() if k.casefold() == folded}
            if len(hits) == 1:
                return hits.pop()
        return None

    def _resolve(self, port: int) -> int | None:
        k = (port,)
        subtype = _int(self.subtypes.get(k))
        raw = self.ids.get(k)
        names = (self.by_name, self.by_descr, self.by_alias)
        if raw is not None:
            if subtype == PORT_MAC:
                mac = parse_mac(raw)
                if mac and mac in self.by_mac:
                    return self.by_mac[mac]
            s = text(raw)
            if s:
                order = (self.by_alias, self.by_name, self.by_descr) if subtype == PORT_ALIAS else names
                hit = self._by_text(s, order)
                if hit is not None:
                    return hit
                if subtype in (None, PORT_LOCAL) and s.isdigit() and int(s) in self.ifindexes:
                    return int(s)
        desc = text(self.descs.get(k))
        if desc:
            hit = self._by_text(desc, names)
            if hit is not None:
                return hit
        if port in self.ifindexes:
            self.by_number.append(port)
            return port
        self.unmapped.append(port)
        return None

    def __call__(self, port: int) -> int | None:
        if port not in self._cache:
            self._cache[port] = self._resolve(port)
        return self._cache[port]

    @property
    def notes(self) -> list[str]:
        out = []
        if self.by_number:
            ports = ", ".join(str(p) for p in sorted(set(self.by_number)))
            out.append(
                f"LLDP local port(s) {ports}: lldpLocPortTable names no matching interface; "
                "assumed the port number is the ifIndex"
            )
        if self.unmapped:
            ports = ", ".join(str(p) for p in sorted(set(self.unmapped)))
            out.append(f"LLDP local port(s) {ports}: no matching interface; neighbours reported without ifIndex")
        return out


def _unique(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    seen: dict[str, int] = {}
    dup: set[str] = set()
    for k, v in pairs:
        if k in seen and seen[k] != v:
            dup.add(k)
        seen.setdefault(k, v)
    return {k: v for k, v in seen.items() if k not in dup}


def lldp_management_addresses(table: Table) -> dict[tuple[int, int], str]:
    """(local port, remote index) -> management address (IPv4 preferred) from lldpRemManAddrTable."""
    out: dict[tuple[int, int], str] = {}
    for index in table.get("lldpRemManAddrIfSubtype", {}):
        if len(index) < 5:
            continue
        key = (index[1], index[2])
        family = index[3]
        addr_type = {1: 1, 2: 2}.get(family)
        if addr_type is None:
            continue
        ip, _ = parse_inet_address(index, 4, addr_type)
        if ip is None:
            continue
        if key not in out or (":" in out[key] and ":" not in ip):
            out[key] = ip
    return out


# LLDP-EXT-MED-MIB LldpXMedDeviceClass; notDefined(0) and anything else is left out.
MED_DEVICE_CLASSES = {1: "endpoint-1", 2: "endpoint-2", 3: "endpoint-3", 4: "network"}
# LLDP-MED inventory: LldpNeighbor field -> lldpXMedRemInventoryTable column.
MED_INVENTORY_COLUMNS = {
    "med_hardware": "lldpXMedRemHardwareRev",
    "med_firmware": "lldpXMedRemFirmwareRev",
    "med_software": "lldpXMedRemSoftwareRev",
    "med_serial": "lldpXMedRemSerialNum",
    "med_manufacturer": "lldpXMedRemMfgName",
    "med_model": "lldpXMedRemModelName",
    "med_asset": "lldpXMedRemAssetID",
}


class MedInventory(msgspec.Struct, frozen=True, kw_only=True):
    """What one LLDP-MED neighbour says about itself (the LldpNeighbor ``med_*`` fields)."""

    med_class: str | None = None
    med_manufacturer: str = ""
    med_model: str = ""
    med_hardware: str = ""
    med_firmware: str = ""
    med_software: str = ""
    med_serial: str = ""
    med_asset: str = ""


def lldp_med(capabilities: Table, inventory: Table) -> dict[tuple[int, int], MedInventory]:
    """(local port, remote index) -> LLDP-MED device class and inventory, from
    lldpXMedRemCapabilitiesTable and lldpXMedRemInventoryTable (index: TimeMark, LocalPortNum,
    RemIndex, like lldpRemTable). Rows that say nothing are left out."""
    classes = capabilities.get("lldpXMedRemDeviceClass", {})
    cols = {f: inventory.get(c, {}) for f, c in MED_INVENTORY_COLUMNS.items()}
    indexes: set[OID] = {i for i in classes if len(i) == 3}
    for col in cols.values():
        indexes.update(i for i in col if len(i) == 3)
    out: dict[tuple[int, int], MedInventory] = {}
    for index in sorted(indexes):
        fields = {f: v for f, col in cols.items() if (v := text(col.get(index)))}
        cls = _int(classes.get(index))
        med_class = MED_DEVICE_CLASSES.get(cls) if cls is not None else None
        if not fields and med_class is None:
            continue
        out[(index[1], index[2])] = MedInventory(med_class=med_class, **fields)
    return out


def decode_lldp(
    switch: str, table: Table, ports: LocalPortMap, mgmt: Mapping[tuple[int, int], str],
    med: Mapping[tuple[int, int], MedInventory] | None = None,
) -> list[LldpNeighbor]:
    """lldpRemTable (index: TimeMark, LocalPortNum, RemIndex) -> LldpNeighbor, with the LLDP-MED
    class and inventory of ``med`` (from :func:`lldp_med`) where the neighbour sent them."""
    cols = {name: table.get(name, {}) for name in (
        "lldpRemChassisIdSubtype", "lldpRemChassisId", "lldpRemPortIdSubtype", "lldpRemPortId",
        "lldpRemPortDesc", "lldpRemSysName", "lldpRemSysDesc", "lldpRemSysCapEnabled")}
    indexes: set[OID] = set()
    for col in cols.values():
        indexes.update(i for i in col if len(i) == 3)
    out = []
    for index in sorted(indexes, key=lambda i: (i[1], i[2], i[0])):
        _, port, rem = index
        inv = (med or {}).get((port, rem), _NO_MED)
        out.append(
            LldpNeighbor(
                switch=switch,
                ifindex=ports(port),
                protocol="lldp",
                chassis_id=format_lldp_id(
                    _int(cols["lldpRemChassisIdSubtype"].get(index)), cols["lldpRemChassisId"].get(index),
                    mac_subtype=CHASSIS_MAC, net_subtype=CHASSIS_NETADDR),
                port_id=format_lldp_id(
                    _int(cols["lldpRemPortIdSubtype"].get(index)), cols["lldpRemPortId"].get(index),
                    mac_subtype=PORT_MAC, net_subtype=PORT_NETADDR),
                port_descr=text(cols["lldpRemPortDesc"].get(index)),
                sys_name=text(cols["lldpRemSysName"].get(index)),
                sys_desc=text(cols["lldpRemSysDesc"].get(index), MAX_TEXT, multiline=True),
                capabilities=bits(cols["lldpRemSysCapEnabled"].get(index), LLDP_CAPABILITIES),
                mgmt_ip=mgmt.get((port, rem)),
                **msgspec.structs.asdict(inv),
            )
        )
    return out


_NO_MED = MedInventory()


# --- CDP --------------------------------------------------------------------------------

CDP_CAPABILITIES = (
    (0x01, "router"), (0x02, "bridge"), (0x04, "bridge"), (0x08, "bridge"), (0x10, "station"),
    (0x40, "repeater"), (0x80, "telephone"),
)


def cdp_capabilities(raw: Value | None) -> tuple[str, ...]:
    if isinstance(raw, bytes) and raw:
        value = int.from_bytes(raw[-4:], "big")
    elif isinstance(raw, int):
        value = raw
    else:
        return ()
    out: list[str] = []
    for bit, name in CDP_CAPABILITIES:
        if value & bit and name not in out:
            out.append(name)
    return tuple(out)


def decode_cdp(switch: str, table: Table, ifindexes: Iterable[int] = ()) -> list[LldpNeighbor]:
    """cdpCacheTable (index: ifIndex, device index) -> LldpNeighbor with protocol "cdp"."""
    cols = {name: table.get(name, {}) for name in (
        "cdpCacheAddressType", "cdpCacheAddress", "cdpCacheDeviceId", "cdpCacheDevicePort",
        "cdpCachePlatform", "cdpCacheCapabilities")}
    known = set(ifindexes)
    indexes: set[OID] = set()
    for col in cols.values():
        indexes.update(i for i in col if len(i) == 2)
    out = []
    for index in sorted(indexes):
        addr = cols["cdpCacheAddress"].get(index)
        mgmt = None
        if isinstance(addr, bytes) and _int(cols["cdpCacheAddressType"].get(index)) in (1, None):
            mgmt = ip_from_bytes(addr) if len(addr) == 4 else None
        device_id = text(cols["cdpCacheDeviceId"].get(index))
        out.append(
            LldpNeighbor(
                switch=switch,
                ifindex=index[0] if not known or index[0] in known else None,
                protocol="cdp",
                chassis_id=device_id,
                port_id=text(cols["cdpCacheDevicePort"].get(index)),
                sys_name=device_id,
                capabilities=cdp_capabilities(cols["cdpCacheCapabilities"].get(index)),
                mgmt_ip=mgmt,
                platform=text(cols["cdpCachePlatform"].get(index)),
            )
        )
    return out


# --- Cisco per-VLAN bridge instances ------------------------------------------------------

RESERVED_VLANS = range(1002, 1006)  # FDDI/Token Ring defaults: no bridge instance to walk


def cisco_operational_vlans(table: Table) -> list[int]:
    """Operational Ethernet VLANs from CISCO-VTP-MIB vtpVlanState (1 = operational), 1002-1005 skipped."""
    state, kind = table.get("vtpVlanState", {}), table.get("vtpVlanType", {})
    out = set()
    for index, value in state.items():
        if len(index) != 2 or value != 1:
            continue
        vlan = index[1]
        if vlan in RESERVED_VLANS or not 1 <= vlan <= 4094:
            continue
        if kind.get(index, 1) != 1:
            continue
        out.add(vlan)
    return sorted(out)


def is_cisco(sys_object_id: str) -> bool:
    return sys_object_id.strip(".").startswith("1.3.6.1.4.1.9.")
