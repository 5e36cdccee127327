"""Address-in-prefix tests shared by the flow rules and the device directory."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(prefixes: Iterable[str]) -> list[Network]:
    """Parse prefixes (validated by the config) into networks; host bits are ignored."""
    return [ipaddress.ip_network(n, strict=False) for n in prefixes]


def in_networks(ip: str, nets: list[Network]) -> bool:
    """Whether ``ip`` lies in any of ``nets``; a string that is no address is in none."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in n for n in nets)
