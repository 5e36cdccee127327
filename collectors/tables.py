"""What one CLI or NETCONF poll (or one saved reply) said, table by table, before it becomes a Snapshot.

Shared by ``collectors.cli`` and ``collectors.netconf``. Pure helpers only: no I/O.
The logical tables are ``system``, ``interfaces``, ``fdb``, ``arp``, ``lldp`` and ``cdp``;
a table that a reply does not cover stays ``None`` (not provided), which is different
from an empty list (provided, and empty).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from collectors.cli.names import Ports
from collectors.facts import (
    TABLES,
    ArpEntry,
    FdbEntry,
    Interface,
    LldpNeighbor,
    ProblemKind,
    Snapshot,
    SwitchInfo,
    TableProblem,
    TableStatus,
)


@dataclass
class Tables:
    switch: str
    ports: Ports
    system: SwitchInfo | None = None
    interfaces: list[Interface] | None = None
    fdb: list[FdbEntry] | None = None
    arp: list[ArpEntry] | None = None
    lldp: list[LldpNeighbor] | None = None
    cdp: list[LldpNeighbor] | None = None
    notes: list[str] = field(default_factory=list)
    problems: dict[str, list[TableProblem]] = field(default_factory=dict)  # table -> what went wrong
    failed: set[str] = field(default_factory=set)  # tables asked for that could not be read
    lldp_detail: list[LldpNeighbor] | None = None  # detailed and brief LLDP outputs, merged into lldp
    lldp_brief: list[LldpNeighbor] | None = None

    def add(self, table: str, rows: list[object]) -> None:
        """Append rows to a table (several commands may fill one table)."""
        current = getattr(self, table)
        setattr(self, table, (current or []) + rows)

    def fail(self, tables: Iterable[str], kind: ProblemKind, detail: str, source: str = "") -> None:
        """Record that ``tables`` could not be read (by the command or model ``source``)."""
        problem = TableProblem(kind=kind, detail=detail, source=source)
        for table in tables:
            self.problems.setdefault(table, []).append(problem)
            self.failed.add(table)

    @property
    def errors(self) -> list[str]:
        """The problems in words, each once, for people."""
        seen = dict.fromkeys(f"{t}: {p}" for t, ps in self.problems.items() for p in ps)
        return list(seen)

    def provided(self) -> tuple[str, ...]:
        """The tables this poll read completely."""
        return tuple(t for t in TABLES if getattr(self, t) is not None and t not in self.failed)

    def statuses(self, method: str) -> tuple[TableStatus, ...]:
        """A status for every table this poll read or tried to read."""
        out: list[TableStatus] = []
        for t in TABLES:
            value = getattr(self, t)
            if value is None and t not in self.failed:
                continue  # not offered by this method or platform
            rows = int(value is not None) if t == "system" else len(value or ())
            out.append(TableStatus(table=t, method=method, complete=t not in self.failed and value is not None,  # type: ignore[arg-type]
                                   rows=rows, problems=tuple(self.problems.get(t, ()))))
        return tuple(out)

    def snapshot(self, taken_at: float, method: str) -> Snapshot:
        lldp = (self.lldp or []) + (self.cdp or [])
        notes = list(self.notes)
        if self.ports.synthetic:
            notes.append(f"{method}: ports without an ifIndex in the reply are keyed by name "
                         "(synthetic keys >= 2**30)")
        return Snapshot(
            switch=self.switch, taken_at=taken_at, method=method, system=self.system,
            interfaces=tuple(self.interfaces or ()), fdb=tuple(self.fdb or ()), arp=tuple(self.arp or ()),
            lldp=tuple(lldp), tables_ok=self.provided(), errors=tuple(self.errors), notes=tuple(notes),
            tables=self.statuses(method))


# --------------------------------------------------------------- value helpers
_HEX = re.compile(r"[0-9a-f]")


def norm_mac(text: object) -> str | None:
    """"0010.0de0.e289", "00-10-0D-E0-E2-89", "0010-0de0-e289", "0:10:d:e0:e2:89" -> "00:10:0d:e0:e2:89"."""
    if not isinstance(text, str):
        return None
    s = text.strip().lower()
    parts = re.split(r"[:\-]", s)
    if len(parts) == 6 and all(1 <= len(p) <= 2 and all(_HEX.match(c) for c in p) for p in parts):
        return ":".join(p.zfill(2) for p in parts)
    dotted = s.split(".")
    if len(dotted) == 3 and all(1 <= len(p) <= 4 and all(_HEX.match(c) for c in p) for p in dotted):
        s = "".join(p.zfill(4) for p in dotted)  # Cisco dotted, leading zeros dropped: 00c.297b.d2a8
    digits = re.sub(r"[.:\- ]", "", s)
    if len(digits) == 12 and all(_HEX.match(c) for c in digits):
        return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    return None


def norm_ip(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        return str(ipaddress.ip_address(text.strip().split("%")[0].split("/")[0]))
    except ValueError:
        return None


def to_int(text: object) -> int | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if isinstance(text, str):
        m = re.match(r"\s*(\d+)\s*$", text)
        if m:
            return int(m.group(1))
    return None


def vlan_id(text: object) -> int | None:
    v = to_int(text)
    return v if v is not None and 0 < v < 4095 else None


_SPEED = re.compile(r"^(?:a-|auto-?)?(\d+(?:\.\d+)?)\s*(k|m|g|t)?(?:b(?:it|ps|/s)?|bps)?", re.IGNORECASE)
_SCALE = {"k": 0.001, "m": 1.0, "g": 1000.0, "t": 1_000_000.0}


def speed_mbps(text: object, default_unit: str = "m") -> int | None:
    """"a-1000", "1000", "1G", "10Gb/s", "100Mb/s", "1000mbps", "40Gbps" -> Mbit/s; "auto" -> None."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        return int(text * _SCALE[default_unit]) if text else None
    m = _SPEED.match(str(text).strip())
    if not m:
        return None
    value = float(m.group(1)) * _SCALE[(m.group(2) or default_unit).lower()]
    return int(value) if value >= 1 else None


_UP = {"up", "connected", "connect", "active", "true", "link up", "yes"}


def is_up(text: object) -> bool | None:
    if isinstance(text, bool):
        return text
    if not isinstance(text, str) or not text.strip():
        return None
    s = text.strip().lower()
    return bool(s in _UP or s.startswith("up"))


_CAPS = {  # values: the names collectors/snmp/decode.py gives LLDP-MIB's bits, so methods agree
    "b": "bridge", "bridge": "bridge", "r": "router", "router": "router", "t": "telephone", "telephone": "telephone",
    "tel": "telephone",  # lldpcli's spelling
    "w": "wlan-ap", "wlan": "wlan-ap", "wlan access point": "wlan-ap", "wlan-ap": "wlan-ap",
    "wlan-access-point": "wlan-ap", "wlanaccesspoint": "wlan-ap", "ap": "wlan-ap",
    "s": "station", "station": "station", "station only": "station", "stationonly": "station",
    "station-only": "station", "p": "repeater", "repeater": "repeater", "c": "docsis", "docsis": "docsis",
    "docsis-cable-device": "docsis", "o": "other", "other": "other",
    "switch": "bridge", "host": "station", "igmp": "igmp", "phone": "telephone",
    "source-route-bridge": "bridge", "trans-bridge": "bridge",
    # OpenConfig openconfig-lldp-types identities (MAC_BRIDGE, STATION_ONLY, ...), lower-cased with dashes
    "mac-bridge": "bridge", "c-vlan": "c-vlan", "s-vlan": "s-vlan", "two-port-mac-relay": "tpmr",
}


def capabilities(value: object) -> tuple[str, ...]:
    """LLDP/CDP capability spellings -> the names SNMP reports (bridge, router, telephone, wlan-ap, ...)."""
    items: list[str] = []
    if isinstance(value, list):
        for v in value:
            items.extend(re.split(r"[,\s]+(?=[A-Za-z])", str(v)))
    elif isinstance(value, str):
        v = value.replace("Station Only", "station").replace("WLAN Access Point", "wlan-access-point")
        v = v.replace("WLAN access point", "wlan-access-point")
        items = re.split(r"[,\s;]+", v)
    out: list[str] = []
    for item in items:
        k = item.strip().strip(".").lower()
        name = _CAPS.get(k) or _CAPS.get(k.replace("_", "-"))
        if name and name not in out:
            out.append(name)
    return tuple(out)


def fdb_status(text: object) -> str:
    s = str(text or "").strip().lower()
    if not s or (s.startswith(("dyn", "learn", "d", "reachable")) and not s.startswith("del")):
        return "learned"
    if any(w in s for w in ("self", "system", "cpu", "router", "permanent", "igmp", "local")):
        return "self"
    if "static" in s or s.startswith("s") or "sticky" in s or "secure" in s or "config" in s:
        return "mgmt"
    return "other"
