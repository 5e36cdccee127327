"""What monitoring has seen of each device: flows in the last day, anomalies and violations in the last 30 days.

The flow source folds every window into this state (pure code here) and persists it
as ``flows/monitor.json`` in the state directory. The correlator reads it for each
device's ``controls.monitoring`` (is the device actively watched, since when is its
baseline established), and ``sensor report`` lists a device's anomalies and policy
violations from it: events are not retained on the hub, so without this record the
report could not show them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import msgspec
import structlog

from sensor.flows.events import FlowEvent, Peer, PolicyViolationEvent
from sensor.flows.model import DeviceConversations
from sensor.flows.summary import Summary
from sensor.statefiles import write_atomic

log = structlog.get_logger("sensor.flows")

DAY = 86400.0
EVENT_DAYS = 30.0


class Noted(msgspec.Struct, array_like=True):
    """[at, kind, rule, peer, service, detail]: one anomaly or policy violation of a device."""

    at: float
    kind: str  # "anomaly" or "policy_violation"
    rule: str  # the anomaly rule, or the nearest approved policy rule ("" when none)
    peer: str
    service: str
    detail: str


class DeviceMonitor(msgspec.Struct, kw_only=True):
    windows: list[tuple[float, int]] = msgspec.field(default_factory=list)  # (window end, flows) in the last day
    baseline_since: float | None = None
    learning_until: float | None = None
    events: list[Noted] = msgspec.field(default_factory=list)  # the last 30 days, newest last


class MonitorState(msgspec.Struct, kw_only=True):
    version: int = 1
    devices: dict[str, DeviceMonitor] = msgspec.field(default_factory=dict)  # by MAC
    dropped_devices: int = 0  # devices not recorded because the state was full, ever
    dropped_events: int = 0  # events beyond max_events of a device, ever


def _service(peer: Peer | None) -> str:
    if peer is None:
        return ""
    proto = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}.get(peer.proto, "")
    return f"{proto}/{peer.port}" if peer.port else proto


class Monitor:
    """The monitoring state in memory, bounded per device and in devices."""

    def __init__(self, state: MonitorState | None = None, *, max_devices: int = 20_000,
                 max_events: int = 100) -> None:
        self.state = state or MonitorState()
        self.max_devices = max_devices
        self.max_events = max_events

    def _device(self, mac: str) -> DeviceMonitor | None:
        d = self.state.devices.get(mac)
        if d is None:
            if len(self.state.devices) >= self.max_devices:
                self.state.dropped_devices += 1
                return None
            d = self.state.devices[mac] = DeviceMonitor()
        return d

    def add_window(self, convs: Iterable[DeviceConversations], events: Iterable[FlowEvent], end: float,
                   baselines: Mapping[str, tuple[float, float]] | None = None,
                   resolve: Callable[[str], str | None] | None = None) -> None:
        """Fold one window: each device's flows, its baseline (first seen, learning until) and its events
        (a policy violation counts for both ends, the peer by ``resolve``-ing its address)."""
        baselines = baselines or {}
        for dc in convs:
            if dc.mac is None:
                continue
            d = self._device(dc.mac)
            if d is None:
                continue
            flows = sum(c.flows for c in dc.conversations)
            if flows:
                d.windows.append((end, flows))
            b = baselines.get(dc.device)
            if b is not None:
                d.baseline_since, d.learning_until = b
        for ev in events:
            macs = [ev.mac]
            if isinstance(ev, PolicyViolationEvent) and resolve is not None:
                macs.append(resolve(ev.peer.ip))
            for mac in {m for m in macs if m}:
                d = self._device(mac)
                if d is None:
                    continue
                rule = ev.rule or ""
                if isinstance(ev, PolicyViolationEvent):
                    detail = (f"{ev.zone} <-> {ev.peer_zone}: {ev.service} not allowed by "
                              f"policy version {ev.policy_version}")
                else:
                    detail = "; ".join(r.why for r in ev.reasons)
                d.events.append(Noted(end, ev.event, rule, ev.peer.ip if ev.peer else "", _service(ev.peer),
                                      detail[:500]))
                if len(d.events) > self.max_events:
                    self.state.dropped_events += len(d.events) - self.max_events
                    del d.events[:len(d.events) - self.max_events]
        self.expire(end)

    def expire(self, now: float) -> None:
        for mac in list(self.state.devices):
            d = self.state.devices[mac]
            d.windows = [w for w in d.windows if w[0] > now - DAY]
            d.events = [e for e in d.events if e.at > now - EVENT_DAYS * DAY]
            if not d.windows and not d.events and d.baseline_since is None:
                del self.state.devices[mac]

    def summaries(self, now: float) -> dict[str, Summary]:
        """Every device's monitoring at ``now``."""
        out = {}
        for mac, d in self.state.devices.items():
            recent = [w for w in d.windows if w[0] > now - DAY]
            events = [e for e in d.events if e.at > now - EVENT_DAYS * DAY]
            out[mac] = Summary(flows_24h=sum(f for _, f in recent), windows_24h=len(recent),
                               last_flow=max((w[0] for w in d.windows), default=None),
                               baseline_since=d.baseline_since, learning_until=d.learning_until,
                               anomalies_30d=sum(e.kind == "anomaly" for e in events),
                               violations_30d=sum(e.kind == "policy_violation" for e in events))
        return out


def monitor_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / "flows" / "monitor.json"


def load_monitor(state_dir: str | Path) -> MonitorState:
    """The persisted state, or an empty one (a damaged file is logged and replaced)."""
    path = monitor_path(state_dir)
    try:
        return msgspec.json.decode(path.read_bytes(), type=MonitorState)
    except FileNotFoundError:
        return MonitorState()
    except (OSError, msgspec.DecodeError) as e:
        log.warning("monitoring state unreadable: starting empty", path=str(path), error=str(e))
        return MonitorState()


def save_monitor(state: MonitorState, state_dir: str | Path) -> None:
    write_atomic(monitor_path(state_dir), msgspec.json.encode(state))
