"""Interface names and the keys facts use for them, shared by the CLI and NETCONF collectors.

SNMP identifies a port by ifIndex. A CLI or NETCONF reply names it, often abbreviated
differently by each command of the same switch ("Gi1/0/1" in the MAC table,
"GigabitEthernet1/0/1" in ``show interfaces``). :class:`Ports` turns every spelling of
one port into one canonical name and one integer key:

- the real ifIndex when the platform reports it (Linux ``ip -j link``, Junos
  ``snmp-index``, OpenConfig/IETF ``if-index``), so keys equal what SNMP says;
- otherwise a stable synthetic key derived from the canonical name
  (``SYNTHETIC_BASE`` + CRC-32), the same on every poll and for every command.

``sensor.switches.methods`` re-keys facts by name when tables come from different methods.
"""

from __future__ import annotations

import re
import zlib

from collectors.cli.platforms import CLI, VERBATIM_PLATFORMS

SYNTHETIC_BASE = 0x40000000  # synthetic keys are >= 2**30; real ifIndex values are far smaller in practice

# Longest prefix first. Values are the names the platforms print in full.
_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("hundredgige", "HundredGigE"),
    ("hundredgigabitethernet", "HundredGigabitEthernet"),
    ("fortygigabitethernet", "FortyGigabitEthernet"),
    ("twentyfivegige", "TwentyFiveGigE"),
    ("twogigabitethernet", "TwoGigabitEthernet"),
    ("fivegigabitethernet", "FiveGigabitEthernet"),
    ("tengigabitethernet", "TenGigabitEthernet"),
    ("ten-gigabitethernet", "Ten-GigabitEthernet"),
    ("gigabitethernet", "GigabitEthernet"),
    ("fastethernet", "FastEthernet"),
    ("ethernet", "Ethernet"),
    ("port-channel", "Port-channel"),
    ("bridge-aggregation", "Bridge-Aggregation"),
    ("management", "Management"),
    ("loopback", "Loopback"),
    ("vlan-interface", "Vlan-interface"),
    ("vlan", "Vlan"),
    ("tunnel", "Tunnel"),
    ("mgmt", "mgmt"),
    # abbreviations (Cisco, Arista, Comware)
    ("hu", "HundredGigE"),
    ("fo", "FortyGigabitEthernet"),
    ("twe", "TwentyFiveGigE"),
    ("tw", "TwoGigabitEthernet"),
    ("te", "TenGigabitEthernet"),
    ("xge", "Ten-GigabitEthernet"),
    ("gig", "GigabitEthernet"),
    ("gi", "GigabitEthernet"),
    ("ge", "GigabitEthernet"),
    ("fa", "FastEthernet"),
    ("eth", "Ethernet"),
    ("et", "Ethernet"),
    ("po", "Port-channel"),
    ("bagg", "Bridge-Aggregation"),
    ("lo", "Loopback"),
    ("vl", "Vlan"),
    ("tu", "Tunnel"),
    ("ma", "Management"),
)
_SPLIT = re.compile(r"^([A-Za-z][A-Za-z-]*?)\s*(\d.*)$")
# Platforms whose interface names are used as printed (no Cisco-style abbreviations) are
# VERBATIM_PLATFORMS; others may print their own abbreviations (collectors.cli.platforms).
__all__ = ["VERBATIM_PLATFORMS", "Ports", "canonical_name", "synthetic_key"]


def canonical_name(name: str, platform: str = "") -> str:
    """One spelling per port: "Gi1/0/1", "gi 1/0/1" and "GigabitEthernet1/0/1" are the same."""
    n = name.strip().strip('"')
    if platform in VERBATIM_PLATFORMS:
        return n
    m = _SPLIT.match(n)
    if not m:
        return n
    word, rest = m.group(1).lower(), m.group(2)
    entry = CLI.get(platform)
    for abbr, full in (entry.abbreviations if entry else ()):
        if word == abbr:
            return full + rest
    for abbr, full in _ABBREVIATIONS:
        if word == abbr:
            return full + rest
    return m.group(1) + rest


def synthetic_key(canonical: str) -> int:
    return SYNTHETIC_BASE + (zlib.crc32(canonical.lower().encode()) & 0x3FFFFFFF)


class Ports:
    """The ports of one switch as one poll saw them: canonical name <-> key."""

    def __init__(self, platform: str = "") -> None:
        self.platform = platform
        self._keys: dict[str, int] = {}
        self.names: dict[int, str] = {}
        self.synthetic = False

    def learn(self, name: str, ifindex: int) -> None:
        """Record a real ifIndex for a port (before its other tables are keyed)."""
        canon = canonical_name(name, self.platform)
        if not canon:
            return
        self._keys[canon.lower()] = ifindex
        self.names.setdefault(ifindex, canon)

    def key(self, name: str | None) -> int | None:
        """The key of the port called ``name`` (None for an empty name)."""
        if name is None:
            return None
        canon = canonical_name(name, self.platform)
        if not canon or canon in ("-", "N/A"):
            return None
        low = canon.lower()
        if low in self._keys:
            return self._keys[low]
        k = synthetic_key(canon)
        while k in self.names and self.names[k].lower() != low:  # a CRC collision: probe on
            k += 1
        self._keys[low] = k
        self.names[k] = canon
        self.synthetic = True
        return k

    def lookup(self, name: str) -> int | None:
        """The key of a known port, without inventing one."""
        return self._keys.get(canonical_name(name, self.platform).lower())
