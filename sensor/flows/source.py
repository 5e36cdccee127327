"""The flow source: a continuous listener whose cycle is one aggregation window.

The UDP sockets stay open across cycles (a window's end swaps the table, it does
not close anything). At the end of each window the distinct flows are resolved
into per-device conversations (published on ``flows``), checked against the
baselines (anomalies published on ``events``), and the template cache and the
baselines are written to the state directory so a restart loses neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import structlog

from collectors.flows import Decoder, FlowCollector, FlowListener, FlowTable, parse_listen
from sensor.config import Config, FlowsSection, PolicySection
from sensor.directory import DeviceDirectory
from sensor.errors import SourceError
from sensor.flows.baseline import Baselines, BaselineState
from sensor.flows.conversations import Aggregator
from sensor.flows.events import FlowEvent, PolicyViolationEvent
from sensor.flows.model import DeviceConversations
from sensor.flows.monitor import Monitor, load_monitor, save_monitor
from sensor.metrics import Metrics
from sensor.observations import event_obs, flows_obs, policy_obs
from sensor.policy.matrix import load_matrix, save_matrix
from sensor.policy.watch import PolicyWatch
from sensor.sources import SourceContext
from sensor.statefiles import write_atomic

log = structlog.get_logger("sensor.flows")
METRIC_SYNC = 10.0  # seconds between counter updates within a window


class FlowSource:
    """Listens for NetFlow/IPFIX; one cycle = one window."""

    continuous = True

    def __init__(self, flows: FlowsSection, state_dir: str | Path, *, directory: DeviceDirectory | None = None,
                 clock: Callable[[], float] = time.time, policy: PolicySection | None = None,
                 switch_exporters: Mapping[str, str] | None = None) -> None:
        self.cfg = flows
        self.policy_cfg = policy or PolicySection()
        self.state_dir = Path(state_dir)
        self.dir = Path(state_dir) / "flows"
        self.directory: DeviceDirectory = directory or DeviceDirectory(medical_prefixes=flows.medical)
        self.clock = clock
        self.decoder = Decoder(max_exporters=flows.max_exporters,
                               max_templates_per_exporter=flows.max_templates_per_exporter,
                               sampling_overrides=dict(flows.sampling))
        self.collector = FlowCollector(flows.allowed_exporters, self.decoder, max_keys=flows.max_flows_per_window)
        self.aggregator = Aggregator(self.directory, flows.internal, max_devices=flows.max_devices,
                                     max_peers_per_device=flows.max_peers_per_device,
                                     switch_exporters=switch_exporters, prefer_exporters=flows.prefer_exporters)
        self.baselines = Baselines(
            self._load_baseline(), self.directory, internal=flows.internal, dns_resolvers=flows.dns_resolvers,
            it_management=flows.it_management, learning_period=flows.learning_period, realert=flows.realert,
            volume_factor=flows.volume_factor, volume_min_bytes=flows.volume_min_bytes,
            max_devices=flows.max_devices, max_peers=flows.max_peers_per_device)
        # The observed communication matrix the segmentation policy is proposed from.
        self.matrix = load_matrix(self.state_dir, window=float(self.policy_cfg.window),
                                  max_entries=self.policy_cfg.max_flows)
        # With an approved policy, every window is checked against it.
        self.watch = (PolicyWatch(self.policy_cfg.file, self.state_dir, realert=float(flows.realert))
                      if self.policy_cfg.file else None)
        # Per device: flows in the last day, anomalies and violations in the last 30 days (controls, report).
        self.monitor = Monitor(load_monitor(self.state_dir), max_devices=flows.max_devices)
        self.directory.set_monitoring(self.monitor.summaries(clock()))
        self.listener: FlowListener | None = None
        self.window_start: float | None = None
        self._synced: dict[str, int] = {}
        self.last_conversations: list[DeviceConversations] = []
        self.last_events: list[FlowEvent] = []
        # `sensor run --once` says how long the window still has to go; the service does not.
        self.countdown = False
        # exporter -> [datagrams, records] this window and the last whole window (for `sensor status`)
        self.by_exporter: dict[str, list[int]] = {}
        self.last_window: dict[str, Any] = {}
        self._load_templates()

    # -- Source protocol ------------------------------------------------------
    @property
    def name(self) -> str:
        return "flows"

    @property
    def interval(self) -> float:
        return float(self.cfg.window)

    @property
    def deadline(self) -> float:
        return float(self.cfg.window) + 60.0

    async def cycle(self, ctx: SourceContext) -> None:
        self.start()
        now = self.clock()
        if self.window_start is None:
            self.window_start = now
        end = self.window_start + float(self.cfg.window)
        tick = METRIC_SYNC / 2 if float(self.cfg.window) <= 120 else 3 * METRIC_SYNC
        while (left := end - self.clock()) > 0:
            if self.countdown:
                records = sum(r for _, r in self.by_exporter.values())
                ctx.log.info(f"flow window: {left:.0f}s left; {records} records from "
                             f"{len(self.by_exporter)} exporter(s) so far",
                             detail={"left_s": round(left, 1), "records": records,
                                     "exporters": sorted(self.by_exporter)})
            await asyncio.sleep(min(left, tick if self.countdown else METRIC_SYNC))
            self.sync_metrics(ctx.metrics)
        await self.finish_window(ctx)

    # -- pieces (also used directly by tests and benchmarks) -----------------------
    def start(self) -> None:
        if self.listener is not None:
            return
        addrs = [parse_listen(a) for a in self.cfg.listen]
        listener = FlowListener(addrs, self._feed, rcvbuf=self.cfg.rcvbuf)
        try:
            listener.start()
        except OSError as e:
            raise SourceError(f"cannot listen for flows on {', '.join(self.cfg.listen)}: {e.strerror or e}: "
                              f"is another collector using the port?") from None
        self.listener = listener

    def _feed(self, data: bytes, addr: str) -> None:
        before = self.decoder.stats["records"]
        self.collector.feed(data, addr)
        counts = self.by_exporter.get(addr)
        if counts is None:
            if len(self.by_exporter) >= self.cfg.max_exporters:  # bounded like the decoder's exporters
                return
            counts = self.by_exporter[addr] = [0, 0]
        counts[0] += 1
        counts[1] += self.decoder.stats["records"] - before

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def window(self, table: FlowTable, start: float, end: float) -> tuple[list[DeviceConversations],
                                                                         list[FlowEvent]]:
        convs = self.aggregator.summarize(table, start, end)
        events: list[FlowEvent] = list(self.baselines.update(convs, end))
        dropped = self.matrix.state.dropped
        self.matrix.add_window(convs, end)
        if self.matrix.state.dropped > dropped:
            log.warning("observed matrix full: conversations not recorded", dropped=self.matrix.state.dropped - dropped,
                        max_flows=self.policy_cfg.max_flows)
        if self.watch is not None:
            self.watch.reload()
            events.extend(self.watch.check(convs, end))
        return convs, events

    async def finish_window(self, ctx: SourceContext) -> None:
        end = self.clock()
        start = self.window_start if self.window_start is not None else end
        table = self.collector.swap()
        self.window_start = end
        seconds = max(end - start, 1e-3)
        exporters = {a: {"datagrams": d, "records": r, "records_per_s": round(r / seconds, 2)}
                     for a, (d, r) in sorted(self.by_exporter.items())}
        self.by_exporter = {}
        convs, events = self.window(table, start, end)
        self.directory.add_window(convs)
        violators = [m for ev in events if isinstance(ev, PolicyViolationEvent)
                     for m in (ev.mac, self.directory.resolve(ev.peer.ip)) if m]
        if violators:
            self.directory.add_violations(violators)
        lp = self.baselines.learning_period
        self.monitor.add_window(convs, events, end,
                                {dc.device: (b.first_seen, b.first_seen + lp) for dc in convs
                                 if (b := self.baselines.state.devices.get(dc.device)) is not None},
                                self.directory.resolve)
        self.directory.set_monitoring(self.monitor.summaries(end))
        self.last_conversations, self.last_events = convs, events
        for dc in convs:
            await ctx.emit(flows_obs(dc, end))
        for ev in events:
            if isinstance(ev, PolicyViolationEvent):
                ctx.log.info("policy violation", device=ev.device, peer=msgspec.to_builtins(ev.peer), rule=ev.rule)
            else:
                ctx.log.info("flow anomaly", device=ev.device, peer=msgspec.to_builtins(ev.peer),
                             reasons=[r.rule for r in ev.reasons])
            await ctx.emit(event_obs(ev, end))
        if self.watch is not None and self.watch.digest != self.watch.published:
            summary = self.watch.summary()
            if summary is not None:
                await ctx.emit(policy_obs(summary, end))
                self.watch.published = self.watch.digest
        if table.overflow_records:
            ctx.log.warning("flow table full: records dropped", dropped=table.overflow_records,
                            max_flows_per_window=self.cfg.max_flows_per_window)
        if table.clamped_records:
            ctx.log.warning("flow counters beyond 64 bits after sampling: clamped (an exporter error)",
                            records=table.clamped_records)
        self.last_window = {"start": start, "end": end, "exporters": exporters, "devices": len(convs),
                            "anomalies": len(events), "flows": len(table)}
        total = sum(e["records"] for e in exporters.values())
        ctx.log.info(f"flow window closed after {seconds:.0f}s: {total} records from {len(exporters)} "
                     f"exporter(s), {len(convs)} device(s) talking, {len(events)} anomalies",
                     detail={"records": total, "exporters": exporters, "devices": len(convs),
                             "anomalies": len(events)})
        ctx.metrics.inc("flows.overflow_records", table.overflow_records)
        ctx.metrics.inc("flows.counters_clamped", table.clamped_records)
        ctx.metrics.inc("flows.windows")
        violations = sum(isinstance(ev, PolicyViolationEvent) for ev in events)
        ctx.metrics.inc("flows.anomalies", len(events) - violations)
        ctx.metrics.inc("policy.violations", violations)
        ctx.metrics.set("flows.devices", len(convs))
        ctx.metrics.set("policy.matrix_entries", len(self.matrix.index))
        ctx.metrics.set("flows.keys_last_window", len(table))
        self.sync_metrics(ctx.metrics)
        self.persist()

    def sync_metrics(self, metrics: Metrics) -> None:
        """Move the decoder's and listener's counters into the health counters (as deltas)."""
        current: dict[str, int] = {f"flows.{k}": v for k, v in self.decoder.stats.items()}
        current.update({f"flows.{k}": v for k, v in self.collector.stats.items()})
        current["flows.duplicate_conversations"] = self.aggregator.duplicates
        current["flows.sums_clamped"] = self.aggregator.clamped + self.baselines.clamped
        if self.listener is not None:
            current["flows.recv_errors"] = self.listener.recv_errors
            metrics.set("flows.kernel_drops", self.listener.kernel_drops)
        for k, v in current.items():
            delta = v - self._synced.get(k, 0)
            if delta:
                metrics.inc(k, delta)
            self._synced[k] = v
        metrics.set("flows.templates", self.decoder.template_count())
        metrics.set("flows.exporters", len(self.decoder.exporters))

    # -- persistence ---------------------------------------------------------------
    def _load_templates(self) -> None:
        path = self.dir / "templates.json"
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError, RecursionError) as e:
            log.warning("flow template cache unreadable: starting empty", path=str(path), error=str(e))
            return
        n = self.decoder.load_state(state)
        self.decoder.templates_changed = False
        log.info("flow templates restored", templates=n, path=str(path))

    def _load_baseline(self) -> BaselineState:
        path = self.dir / "baseline.json"
        try:
            return msgspec.json.decode(path.read_bytes(), type=BaselineState)
        except FileNotFoundError:
            return BaselineState()
        except (OSError, msgspec.DecodeError) as e:
            log.warning("flow baselines unreadable: learning again", path=str(path), error=str(e))
            return BaselineState()

    def persist(self) -> None:
        try:
            if self.decoder.templates_changed:
                write_atomic(self.dir / "templates.json", json.dumps(self.decoder.dump_state()).encode())
                self.decoder.templates_changed = False
            write_atomic(self.dir / "baseline.json", msgspec.json.encode(self.baselines.state))
            save_matrix(self.matrix, self.state_dir)
            save_monitor(self.monitor.state, self.state_dir)
            if self.watch is not None:
                self.watch.persist()
        except OSError as e:
            log.warning("cannot write flow state", dir=str(self.dir), error=str(e))

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def flow_sources(cfg: Config, directory: DeviceDirectory | None = None) -> list[FlowSource]:
    """The flow source, when the configuration has a [flows] section."""
    if cfg.flows is None:
        return []
    return [FlowSource(cfg.flows, cfg.sensor.state_dir, directory=directory, policy=cfg.policy,
                       switch_exporters=switch_addresses(cfg))]


def switch_addresses(cfg: Config) -> dict[str, str]:
    """Exporter address -> configured switch name, for switches whose host is an address."""
    out: dict[str, str] = {}
    for sw in cfg.switch:
        try:
            out[str(ipaddress.ip_address(sw.host.strip("[]")))] = sw.name
        except ValueError:
            continue  # a host name: such a switch is recognized as an exporter through prefer_exporters
    return out
