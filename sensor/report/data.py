"""What the report is made of, and reading it from the state directory.

Everything the report shows comes from what the sensor persisted: the device records
and switch health in the local store, the correlator's state (moves), the register
summary, the observed matrix and the approved policy, and the monitoring state
(anomalies and violations per device). ``ReportData`` is plain data, so the
benchmark builds it from the synthetic hospital without a state directory.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog

from sensor.config import Config
from sensor.correlate.model import DeviceRecord
from sensor.evidence.model import RegisterSummary
from sensor.flows.monitor import Noted
from sensor.observations import PortRoleInfo
from sensor.policy.document import PolicyDoc
from sensor.policy.matrix import Entry

log = structlog.get_logger("sensor.report")


@dataclass
class Cell:
    """Conversations from one zone (clients) to another (servers)."""

    client_zone: str
    server_zone: str
    conversations: int = 0
    bytes: int = 0
    violations: int = 0  # conversations in the policy's scope that no approved rule allows
    examples: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    site: str
    sensor: str
    generated_at: float
    devices: list[DeviceRecord]
    ports: dict[str, list[PortRoleInfo]] = field(default_factory=dict)  # switch -> its ports' roles
    register: RegisterSummary | None = None
    zones: list[str] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    policy: dict[str, Any] | None = None  # version, hash, approved rules; None: no approved policy
    events: dict[str, list[Noted]] = field(default_factory=dict)  # mac -> anomalies and violations, newest last
    moves: dict[str, list[float]] = field(default_factory=dict)  # mac -> when it moved port
    skipped: int = 0  # stored records the report could not read (counted, logged)


def matrix_cells(entries: Iterable[Entry], place: Any, doc: PolicyDoc | None,
                 max_examples: int = 3) -> tuple[list[str], list[Cell]]:
    """Zone-to-zone cells of the observed matrix; with a policy, its violations marked per cell."""
    from sensor.policy.apps import service_text
    from sensor.policy.match import Matcher

    m = Matcher(doc) if doc is not None else None
    cells: dict[tuple[str, str], Cell] = {}
    for e in entries:
        cz, sz = place(e.client, e.client_device).zone, place(e.server, e.server_device).zone
        c = cells.get((cz, sz)) or cells.setdefault((cz, sz), Cell(cz, sz))
        c.conversations += 1
        c.bytes += e.bytes
        if m is not None:
            v = m.check(e.client, e.server, e.proto, e.port)
            if v.in_scope and v.rule is None:
                c.violations += 1
                if len(c.examples) < max_examples:
                    c.examples.append(f"{e.client} -> {e.server} {service_text(e.proto, e.port)}")
    zones = sorted({z for k in cells for z in k})
    return zones, sorted(cells.values(), key=lambda c: (c.client_zone, c.server_zone))


def load(cfg: Config, now: float | None = None) -> ReportData:
    """The report's data from the configuration's state directory."""
    from sensor.commands.policy import _placer
    from sensor.correlate.store import load_state, state_path
    from sensor.errors import ConfigError
    from sensor.flows.monitor import load_monitor
    from sensor.policy.document import load_policy
    from sensor.policy.matrix import load_matrix
    from sensor.publish.outbox import read_retained

    now = time.time() if now is None else now
    sd = cfg.sensor.state_dir
    devices: list[DeviceRecord] = []
    skipped = 0
    for topic, payload in read_retained(sd, "devices/"):
        if not payload:
            continue
        try:
            devices.append(msgspec.convert(msgspec.json.decode(payload)["data"], DeviceRecord))
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as e:
            skipped += 1
            log.warning("stored device record not readable: left out of the report", topic=topic, error=str(e))
    ports: dict[str, list[PortRoleInfo]] = {}
    for topic, payload in read_retained(sd, "switches/"):
        try:
            data = msgspec.json.decode(payload)["data"]
            ports[str(data["switch"])] = msgspec.convert(data.get("port_roles") or [], list[PortRoleInfo])
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as e:
            log.warning("stored switch health not readable: its port map has no roles", topic=topic, error=str(e))
    register = None
    for _topic, payload in read_retained(sd, "register"):
        try:
            register = msgspec.convert(msgspec.json.decode(payload)["data"], RegisterSummary)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as e:
            log.warning("stored register summary not readable", error=str(e))
    doc = None
    policy = None
    if cfg.policy.file:
        try:
            doc = load_policy(cfg.policy.file)
        except ConfigError as e:
            log.warning("approved policy not used in the report", problems=e.problems[:3])
        else:
            policy = {"version": doc.policy.version, "hash": doc.digest(), "file": cfg.policy.file,
                      "approved_rules": len(doc.approved())}
    m = load_matrix(sd, window=float(cfg.policy.window), max_entries=cfg.policy.max_flows)
    m.expire(now)
    entries = m.entries
    zones, cells = matrix_cells(entries, _placer(cfg, entries), doc) if entries else ([], [])
    mon = load_monitor(sd)
    events = {mac: list(d.events) for mac, d in mon.devices.items() if d.events}
    st = load_state(state_path(sd))
    moves = {mac: list(d.moves) for mac, d in st.devices.items() if d.moves}
    return ReportData(site=cfg.sensor.site, sensor=cfg.sensor.id, generated_at=now, devices=devices, ports=ports,
                      register=register, zones=zones, cells=cells, policy=policy, events=events, moves=moves,
                      skipped=skipped)


def port_roles_of(view_ports: Mapping[tuple[str, int | None], Any]) -> dict[str, list[PortRoleInfo]]:
    """The correlator's view as per-switch port roles (what ``switches/{name}`` carries)."""
    out: dict[str, list[PortRoleInfo]] = {}
    for (sw, _), r in sorted(view_ports.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        out.setdefault(sw, []).append(PortRoleInfo(port=r.name, ifindex=r.ifindex, role=r.role,
                                                   evidence=list(r.evidence), macs=r.mac_count))
    return out
