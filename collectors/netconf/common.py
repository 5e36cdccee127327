"""Shared by the NETCONF model parsers: bounded, bomb-safe XML parsing and namespace-blind navigation.

XML is parsed with the standard library's expat, which refuses entity expansion bombs; the
reply size is bounded before parsing. Pure: no I/O.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

from collectors.facts import FdbEntry
from collectors.tables import Tables, fdb_status

MAX_REPLY = 64 * 1024 * 1024

# (name, does this reply have the shape, fill the tables from it): one per model and table.
Shape = tuple[str, Callable[[ET.Element], bool], Callable[[ET.Element, Tables], None]]


class ReplyError(ValueError):
    """A reply that is not XML or has no shape this module knows."""


# Elements are matched by local name: vendors put the same model under different prefixes.
def local_name(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def namespace(el: ET.Element) -> str:
    return el.tag[1:].split("}", 1)[0] if el.tag.startswith("{") else ""


def descendants(el: ET.Element, name: str) -> Iterator[ET.Element]:
    for e in el.iter():
        if local_name(e.tag) == name:
            yield e


def child(el: ET.Element | None, *path: str) -> ET.Element | None:
    cur = el
    for name in path:
        if cur is None:
            return None
        cur = next((c for c in cur if local_name(c.tag) == name), None)
    return cur


def children(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if el is None else [c for c in el if local_name(c.tag) == name]


def get_text(el: ET.Element | None, *path: str) -> str:
    e = child(el, *path) if path else el
    return (e.text or "").strip() if e is not None else ""


def parse_xml(text: str | bytes) -> ET.Element:
    if len(text) > MAX_REPLY:
        raise ReplyError(f"reply larger than {MAX_REPLY} bytes")
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise ReplyError(f"not well-formed XML: {e}") from None


def text_output(text: str) -> str | None:
    """The text of a Junos <output> reply (a CLI command without an XML form), else None."""
    try:
        root = parse_xml(text)
    except ReplyError:
        return None
    out = root if local_name(root.tag) == "output" else child(root, "output")
    if out is None or (len(root) > 1 and local_name(root.tag) != "output"):
        return None
    return out.text or ""


def has_element(*names: str, ns: str | None = None) -> Callable[[ET.Element], bool]:
    def detect(root: ET.Element) -> bool:
        return any(local_name(e.tag) in names and (ns is None or namespace(e).startswith(ns)) for e in root.iter())
    return detect


def fdb_entry(t: Tables, mac: str, port: str, vlan: int | None, kind: str) -> FdbEntry:
    if not port or port.lower() in ("router", "cpu", "self") or port.startswith("irb"):
        return FdbEntry(switch=t.switch, ifindex=None, vlan=vlan, mac=mac, status="self")
    return FdbEntry(switch=t.switch, ifindex=t.ports.key(port), vlan=vlan, mac=mac, status=fdb_status(kind))
