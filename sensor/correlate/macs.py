"""Which MAC addresses are end devices, and which forwarding entries count.

Not devices (after Netdisco's ``check_mac``): broadcast, multicast (the I/G bit),
all-zero, VRRP (00:00:5e:00:01:xx, and 00:00:5e:00:02:xx for IPv6), HSRP
(00:00:0c:07:ac:xx, and 00:00:0c:9f:fx:xx for HSRPv2) and the polled switches' own
MACs; nor forwarding entries whose status is self, mgmt or invalid. Locally
administered (randomised) MACs are devices: they are kept and flagged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable

from collectors.facts import FdbEntry

IGNORED_STATUS = frozenset({"self", "mgmt", "invalid"})
_HEX = re.compile(r"[0-9a-f]{12}")
_VIRTUAL_ROUTER = (
    ("00:00:5e:00:01:", "VRRP virtual router"),
    ("00:00:5e:00:02:", "VRRP (IPv6) virtual router"),
    ("00:00:0c:07:ac:", "HSRP virtual router"),
)


def normalize_mac(text: str) -> str | None:
    """``00-09-FB-12-34-56``, ``0009.fb12.3456`` or ``0009fb123456`` -> ``00:09:fb:12:34:56``; None if not a MAC."""
    h = re.sub(r"[:.\-\s]", "", text.strip().lower())
    if len(h) != 12 or not _HEX.fullmatch(h):
        return None
    return ":".join(h[i : i + 2] for i in range(0, 12, 2))


SWITCH_ID_PREFIX = "lldp:"
_MAX_CHASSIS_ID = 255  # octets in an LLDP chassis ID TLV: anything longer was not one


def switch_identity(chassis: str | None) -> str | None:
    """A switch's globally unique id from its bridge (base) MAC or an LLDP chassis id; None if there is none.

    A MAC in the form used everywhere (``94:18:82:01:00:00``); any other chassis id (a name, an
    address, a local string) as sent, prefixed ``lldp:``. An all-zero or group MAC names no one switch.
    """
    text = (chassis or "").strip()
    if not text or len(text) > _MAX_CHASSIS_ID:
        return None
    mac = normalize_mac(text)
    if mac is None:
        return SWITCH_ID_PREFIX + text
    return None if mac == "00:00:00:00:00:00" or int(mac[:2], 16) & 1 else mac


@functools.lru_cache(maxsize=1 << 17)
def not_a_device(mac: str) -> str | None:
    """Why ``mac`` (normalised form) is never an end device, or None when it may be one."""
    if mac == "ff:ff:ff:ff:ff:ff":
        return "broadcast"
    if mac == "00:00:00:00:00:00":
        return "all-zero"
    for prefix, what in _VIRTUAL_ROUTER:
        if mac.startswith(prefix):
            return what
    if mac.startswith("00:00:0c:9f:f"):
        return "HSRPv2 virtual router"
    try:
        first = int(mac[:2], 16)
    except ValueError:
        return "not a MAC address"
    if first & 1:
        return "multicast"
    return None


def is_locally_administered(mac: str) -> bool:
    """The U/L bit: set on randomised (private) MACs, virtual machines' and many virtual interfaces."""
    try:
        return bool(int(mac[:2], 16) & 2)
    except ValueError:
        return False


def usable_fdb(entries: Iterable[FdbEntry], own_macs: Collection[str] = ()) -> list[FdbEntry]:
    """The forwarding entries that can place an end device. Idempotent: applying it twice changes nothing."""
    return [
        e
        for e in entries
        if e.status not in IGNORED_STATUS and e.mac not in own_macs and not_a_device(e.mac) is None
    ]
