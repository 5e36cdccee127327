"""Geometry and colours of the report's pictures: a switch faceplate and the zone heatmap. Pure.

Only numbers and the data to show are computed here; the SVG itself is written by
the templates, so every name in it goes through Jinja's autoescaping.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sensor.correlate.model import DeviceRecord
from sensor.observations import PortRoleInfo
from sensor.report.data import Cell

LEVELS = ("low", "medium", "high", "critical")
RISK_COLOURS = {"low": "#2e9d4f", "medium": "#e0b000", "high": "#e8740c", "critical": "#c9182b"}
CLASS_COLOURS = {
    "infusion_pump": "#d7301f", "patient_monitor": "#ef6548", "imaging": "#7a0177", "lab_analyzer": "#ae017e",
    "clinical_communications": "#f768a1", "workstation": "#2171b5", "ip_phone": "#6baed6", "printer": "#9ecae1",
    "server": "#08519c", "network": "#737373", "access_point": "#969696", "unknown": "#bdbdbd",
}
MEDICAL_FALLBACK = "#fc8d59"
OTHER_FALLBACK = "#74a9cf"
EMPTY = "#f0f0f0"
UPLINK = "#525252"

PORT_W, PORT_H, GAP, MARGIN = 30, 26, 4, 12


def class_colour(device_class: str, medical: bool) -> str:
    return CLASS_COLOURS.get(device_class, MEDICAL_FALLBACK if medical else OTHER_FALLBACK)


def _natural(name: str) -> tuple[object, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


@dataclass
class Port:
    name: str
    role: str
    x: int
    y: int
    label: str
    fill: str
    risk: str | None  # the highest risk level of what is attached
    risk_colour: str
    device_class: str
    devices: list[DeviceRecord] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    title: str = ""


@dataclass
class Faceplate:
    switch: str
    width: int
    height: int
    ports: list[Port]


def faceplate(switch: str, roles: Iterable[PortRoleInfo], devices: Iterable[DeviceRecord]) -> Faceplate:
    """One switch's ports as a faceplate (odd ports on top, as on most switches), each with what is attached."""
    by_port: dict[str, list[DeviceRecord]] = {}
    for d in devices:
        if d.attachment is not None and d.attachment.switch == switch and d.present:
            by_port.setdefault(d.attachment.port, []).append(d)
    info = {r.port: r for r in roles}
    names = sorted(set(info) | set(by_port), key=_natural)
    cols = max(1, math.ceil(len(names) / 2))
    ports = []
    for i, name in enumerate(names):
        r = info.get(name)
        role = r.role if r is not None else "access"
        devs = sorted(by_port.get(name, ()), key=lambda d: -d.risk.score)
        top = devs[0] if devs else None
        if role == "uplink":
            fill = UPLINK
        elif top is not None:
            fill = class_colour(top.classification.device_class, top.classification.medical)
        else:
            fill = EMPTY
        risk = top.risk.level if top is not None else None
        m = re.search(r"(\d+)$", name)
        lines = [f"{switch} {name} ({role})"]
        lines += [f"{d.mac} {d.vendor or ''} {d.classification.label}, risk {d.risk.score} ({d.risk.level})"
                  + (f", LLDP {d.neighbour.sys_name}" if d.neighbour and d.neighbour.sys_name else "")
                  for d in devs[:8]]
        if len(devs) > 8:
            lines.append(f"and {len(devs) - 8} more")
        if r is not None and role == "uplink":
            lines += r.evidence[:2]
        ports.append(Port(name=name, role=role, x=MARGIN + (i // 2) * (PORT_W + GAP),
                          y=MARGIN + 14 + (i % 2) * (PORT_H + GAP + 6), label=m.group(1) if m else name[:3],
                          fill=fill, risk=risk, risk_colour=RISK_COLOURS.get(risk or "", "#ffffff"),
                          device_class=top.classification.device_class if top else "", devices=devs,
                          evidence=list(r.evidence) if r else [], title="\n".join(lines)))
    return Faceplate(switch=switch, width=2 * MARGIN + cols * (PORT_W + GAP),
                     height=2 * MARGIN + 14 + 2 * (PORT_H + GAP + 6), ports=ports)


@dataclass
class HeatCell:
    x: int
    y: int
    fill: str
    cell: Cell
    title: str


@dataclass
class Heatmap:
    zones: list[str]
    size: int
    label_w: int
    width: int
    height: int
    cells: list[HeatCell]


def _blue(t: float) -> str:
    # from a light to a dark blue
    a, b = (222, 235, 247), (8, 48, 107)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def heatmap(zones: list[str], cells: Iterable[Cell], policy: Mapping[str, object] | None) -> Heatmap:
    """The zone-to-zone matrix: clients in rows, servers in columns, colour by log bytes."""
    size, label_w = 34, 190
    idx = {z: i for i, z in enumerate(zones)}
    cells = list(cells)
    top = max((c.bytes for c in cells), default=1)
    out = []
    for c in cells:
        t = math.log10(1 + c.bytes) / math.log10(1 + max(top, 1)) if top > 0 else 0.0
        title = f"{c.client_zone} -> {c.server_zone}: {c.conversations} conversation(s), {c.bytes} bytes"
        if policy is not None:
            title += f"; {c.violations} not allowed by the approved policy" if c.violations else "; all allowed"
            title += "".join(f"\n{e}" for e in c.examples)
        out.append(HeatCell(x=label_w + idx[c.server_zone] * size, y=label_w + idx[c.client_zone] * size,
                            fill=_blue(t), cell=c, title=title))
    n = len(zones)
    # the column labels lean right: room for the last one
    return Heatmap(zones=zones, size=size, label_w=label_w, width=label_w + n * size + 110,
                   height=label_w + n * size + 10, cells=out)
