"""The correlator stage: snapshots queue in, device observations and events out.

The first batch after start waits until every polled switch has reported once
(or a deadline; see HOLD_MAX), so that a device's first record already has what
every switch says of it. After that it takes every snapshot waiting in the queue
as one batch. It runs the pure ``Correlator`` on the batch, queues a retained ``devices/{mac}`` observation for every
record that changed (all of them at the configured full refresh) and one
``events`` observation per change, then saves its state file. ``task_done`` is
called only after all of that, so ``snapshots.join()`` means "correlated and queued
for the outbox" (``sensor run --once`` relies on it).

The state file and the outbox move together: with ``commit`` (the supervisor's),
records and events are committed to the outbox first and the state, which says
which devices are known and published, is saved only after that. A batch that
cannot be committed (a full disk) is never remembered as published, so a restart
produces it again. At start, ``reconcile`` compares the state with the records the
local store holds and publishes again what it lacks (a state written by an older
version before its outbox commit, or an outbox that was damaged and replaced).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from collectors.facts import Snapshot
from sensor.config import Config
from sensor.correlate.engine import Correlator
from sensor.correlate.model import DeviceEvent
from sensor.correlate.store import load_state, save_state, state_path
from sensor.correlate.tracker import TrackerState
from sensor.correlate.view import PortRole
from sensor.directory import DeviceDirectory
from sensor.errors import StoreError
from sensor.evidence.enrich import Evidence
from sensor.metrics import STAGE, Metrics
from sensor.observations import Observation, PortRoleInfo, SwitchHealth, device_obs, event_obs, register_obs, switch_obs
from sensor.sources import ToCorrelator

if TYPE_CHECKING:
    from sensor.evidence.controls import PolicyInfo

log = structlog.get_logger("sensor.correlate")
MAX_BATCH = 2048
# Every correlation rebuilds the view of every switch, so its cost grows with the campus; run one
# per arriving snapshot and a thousand switches cost a thousand full correlations per cycle. After
# a correlation of t CPU seconds the stage collects snapshots for PAUSE_FACTOR * t (at most
# MAX_PAUSE, less when the queue fills): correlation then takes at most about 1/(1 + PAUSE_FACTOR)
# of a core, and a small site (t of milliseconds) sees no delay at all.
PAUSE_FACTOR = 9.0
MAX_PAUSE = 60.0
# The first correlation waits until every polled switch has reported once: correlated as they came,
# a device seen on its access switch went out before the distribution switch's ARP table gave it
# its addresses, and again with them (campus: ~90,000 records for 50,000 devices). Every switch's
# first poll starts at once and reports within its interval, unless the concurrency limit queues a
# campus longer than that: the wait ends after one interval, at most HOLD_MAX seconds.
HOLD_MAX = 120.0

Commit = Callable[[list[Observation]], Awaitable[None]]
Known = Callable[[], Awaitable[tuple[set[str], bool]]]


def reconcile(state: TrackerState, stored: Collection[str], replaced: bool) -> tuple[list[str], list[str]]:
    """Make ``state`` agree with the device records the local store holds (``stored``: MACs).

    A device the state knows but the store lacks was never committed, unless the store was
    ``replaced`` (found damaged): then it is only published again. Otherwise it is forgotten,
    so it appears again, event and all. Returns (forgotten, republished).
    """
    missing = sorted(m for m in state.devices if m not in stored)
    if replaced:
        for mac in missing:
            state.devices[mac].published = ""
        return [], missing
    gone = set(missing)
    for mac in missing:
        del state.devices[mac]
    for ip in [ip for ip, b in state.bindings.items() if b.mac in gone]:
        del state.bindings[ip]
    return missing, []


def event_line(ev: DeviceEvent) -> tuple[str, dict[str, Any]]:
    """One log line per device event: the words, and the fields for JSON (pure)."""
    what = ", ".join(x for x in (ev.vendor, ev.device_class) if x)
    where = f" on {ev.attachment.switch} {ev.attachment.port}" if ev.attachment else ""
    text = f"device {ev.event}: {ev.mac}{f' ({what})' if what else ''}{where}: {ev.detail}"
    detail: dict[str, Any] = {"event": ev.event, "mac": ev.mac, "device_class": ev.device_class,
                              "switch": ev.attachment.switch if ev.attachment else None,
                              "port": ev.attachment.port if ev.attachment else None}
    return text, {"detail": detail}


class CorrelatorStage:
    def __init__(self, cfg: Config, snapshots: asyncio.Queue[ToCorrelator], observations: asyncio.Queue[Observation],
                 metrics: Metrics, clock: Callable[[], float] = time.time,
                 directory: DeviceDirectory | None = None, commit: Commit | None = None,
                 known: Known | None = None, expect: Collection[str] = (),
                 hold: float | None = None) -> None:
        self.cfg = cfg
        self.snapshots = snapshots
        self.observations = observations
        self.metrics = metrics
        self.clock = clock
        self.path = state_path(cfg.sensor.state_dir)
        self.correlator: Correlator | None = None
        self.directory = directory if directory is not None else DeviceDirectory()
        self.commit = commit
        self.known = known
        self._save_failing = False
        self._policy_key: tuple[float, float] | None = None  # (approved file mtime, exports mtime)
        self.events_total = 0
        # The port roles of the current view by switch, sorted once per view: a campus has a thousand
        # switches, and sorting every port of the view for each switch's health was quadratic.
        self._roles_view: object | None = None
        self._roles: dict[str, list[tuple[tuple[str, int | None], PortRole]]] = {}
        self._last_cpu = 0.0  # CPU seconds of the last correlation: sizes the pause before the next
        # The switches the first correlation waits for (the supervisor's polled switches; none: no wait)
        # and for how long at most (seconds; default from their intervals, see HOLD_MAX).
        self.expect = frozenset(expect)
        intervals = [float(s.interval) for s in cfg.switch if s.name in self.expect]
        self.hold = hold if hold is not None else min(HOLD_MAX, max(intervals, default=HOLD_MAX))
        self._released = asyncio.Event()

    def _ensure(self, stored: tuple[set[str], bool] | None = None) -> Correlator:
        if self.correlator is None:
            state = load_state(self.path)
            if stored is not None:
                forgotten, republished = reconcile(state, *stored)
                if forgotten or republished:
                    log.warning("the correlation state knows devices the outbox never got: publishing them again",
                                appear_again=len(forgotten), records_again=len(republished), state=str(self.path))
                    self.metrics.inc("devices_reconciled", len(forgotten) + len(republished))
            self.correlator = Correlator.from_config(self.cfg, state, evidence=load_evidence(self.cfg))
            log.info("correlator ready", devices=len(self.correlator.state.devices), state=str(self.path))
        return self.correlator

    async def run(self) -> None:
        STAGE.set("correlation")
        # Rules, registry and state load before the first snapshot, off the event loop.
        stored = await self.known() if self.known is not None else None
        await asyncio.to_thread(self.metrics.charge, "correlation", self._ensure, stored)
        first = await self._hold()
        while True:
            if first:
                batch, first = first, []
            else:
                batch = [await self.snapshots.get()]
                await self._pause()
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self.snapshots.get_nowait())
                    except asyncio.QueueEmpty:
                        break
            try:
                await self._process(batch)
            except StoreError as e:
                # Not committed, so it must not be remembered as published: start again from the
                # saved state, which does not have it, and it is produced again.
                log.error("correlated records could not be committed; reloading the saved state", error=str(e))
                self.metrics.inc("correlation_errors")
                self.correlator = None
            except Exception:
                # A bug, not bad input: keep the traceback, keep the stage alive.
                log.exception("correlation failed for this batch", switches=sorted({_switch(s) for s in batch}))
                self.metrics.inc("correlation_errors")
            finally:
                for _ in batch:
                    self.snapshots.task_done()

    def release(self) -> None:
        """End the first correlation's wait now: the sources are done (``run --once``) or stopping."""
        self._released.set()

    async def _hold(self) -> list[ToCorrelator]:
        """The first batch: what arrives until every expected switch reported once (snapshot or health,
        the failed poll's included), the deadline passed, ``release`` was called, or the batch is full."""
        if not self.expect:
            return []
        loop = asyncio.get_running_loop()
        started = loop.time()
        until = started + self.hold
        # Taken out of the queue as it comes, so the pollers never wait on it; bounded like one batch.
        limit = min(MAX_BATCH, self.snapshots.maxsize or MAX_BATCH)
        held: list[ToCorrelator] = []
        reported: set[str] = set()
        while True:
            while len(held) < limit:
                try:
                    item = self.snapshots.get_nowait()
                except asyncio.QueueEmpty:
                    break
                held.append(item)
                reported.add(item.switch)
            got = len(self.expect & reported)
            of = f"{got} of {len(self.expect)} switches reported"
            if self.expect <= reported:
                why = f"all {len(self.expect)} switches reported"
            elif len(held) >= limit:
                why = f"the batch is full ({limit} snapshots and health reports) with {of}"
            elif self._released.is_set():
                why = f"the sources are done with {of}"
            elif loop.time() >= until:
                why = f"deadline after {self.hold:g} s with {of}"
            else:
                # Polled, not awaited: a get() cancelled by a timeout is the only alternative.
                await asyncio.sleep(min(0.05, max(0.0, until - loop.time())))
                continue
            break
        waited = loop.time() - started
        missing = sorted(self.expect - reported)
        # A switch that never answered is a warning; its devices are correlated when it does.
        (log.warning if missing else log.info)(
            f"first correlation after {waited:.1f} s: {why}", reported=got, switches=len(self.expect),
            waited_s=round(waited, 1), held=len(held), missing=missing[:10])
        self.metrics.set("first_correlation_wait_s", round(waited, 1))
        self.metrics.set("first_correlation_switches", got)
        return held

    async def _pause(self) -> None:
        """Let snapshots gather after an expensive correlation (see PAUSE_FACTOR)."""
        pause = min(MAX_PAUSE, PAUSE_FACTOR * self._last_cpu)
        if pause < 0.05:
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + pause
        full = max(1, self.snapshots.maxsize // 2) if self.snapshots.maxsize else MAX_BATCH
        while loop.time() < until and self.snapshots.qsize() < full:  # noqa: ASYNC110
            await asyncio.sleep(min(0.1, until - loop.time()))
        self.metrics.inc("correlation_pauses")

    async def _process(self, items: list[ToCorrelator]) -> None:
        corr = self._ensure()
        batch = [s for s in items if isinstance(s, Snapshot)]
        healths = [h for h in items if isinstance(h, SwitchHealth)]
        now = self.clock()
        if batch:
            await self._correlate(corr, batch, now)
        for h in healths:
            await self.observations.put(switch_obs(h.switch, self._with_roles(corr, h), now))
        # Counted once what the batch produced is committed or queued: with the outbox and the queue
        # empty, a count equal to the polls means the hub has it all (bench/campus.py ends a cycle on it).
        self.metrics.inc("snapshots_correlated", len(batch))

    def _with_roles(self, corr: Correlator, h: SwitchHealth) -> SwitchHealth:
        """The switch's health with the port roles the correlator detected (none after a failed poll)."""
        if not h.ok or corr.view is None:
            return h
        if self._roles_view is not corr.view:
            by_switch: dict[str, list[tuple[tuple[str, int | None], PortRole]]] = {}
            for kv in corr.view.ports.items():
                by_switch.setdefault(kv[0][0], []).append(kv)
            self._roles_view, self._roles = corr.view, by_switch
        roles = [PortRoleInfo(port=r.name, ifindex=r.ifindex, role=r.role, evidence=list(r.evidence),  # type: ignore[arg-type]
                              macs=r.mac_count)
                 for _, r in sorted(self._roles.get(h.switch, ()), key=lambda kv: (kv[1].name, kv[0][1] or 0))]
        return msgspec.structs.replace(h, port_roles=roles)

    def _refresh_controls(self, corr: Correlator) -> None:
        """The approved policy and its exports (re-read when either file changed) and monitoring, for controls."""
        ctx = corr.controls
        if ctx is None:
            return
        from sensor.flows.monitor import Monitor, load_monitor

        if not self.directory.monitoring_set:
            # No flow window yet in this process: what the last one persisted.
            self.directory.set_monitoring(Monitor(load_monitor(self.cfg.sensor.state_dir)).summaries(self.clock()))
        ctx.monitoring = self.directory.monitoring()
        ctx.policy = load_policy_info(self.cfg, ctx.policy, self._policy_key)
        self._policy_key = policy_key(self.cfg)

    async def _correlate(self, corr: Correlator, batch: list[Snapshot], now: float) -> None:
        await asyncio.to_thread(self.metrics.charge, "correlation", self._refresh_controls, corr)
        started, classified = time.process_time(), corr.classification_cpu
        out = corr.ingest(batch, now, flows=self.directory.flow_hints())
        self.directory.update_from_records(out.records)
        self._last_cpu = time.process_time() - started
        self.metrics.set("correlation_cpu_seconds", round(self._last_cpu, 3))
        # This callback is charged to "correlation" as a whole: move the classifier's share.
        classified = corr.classification_cpu - classified
        self.metrics.add_cpu("classification", classified)
        self.metrics.add_cpu("correlation", -classified)
        self.metrics.set("devices", sum(1 for r in out.records.values() if r.present))
        # Every device's record, of which only the changed ones (out.devices) are published: not held
        # while the commit below waits for the hub (a campus: ~60 MB).
        out.records = {}
        obs = [device_obs(mac, rec, now) for mac, rec in out.devices]
        if corr.evidence is not None and corr.evidence.cache_resets:
            self.metrics.set("advisory_cache_resets", corr.evidence.cache_resets)
        if out.register is not None:
            obs.append(register_obs(out.register, now))
            self.metrics.set("register_unseen", out.register.unseen)
            self.metrics.set("register_shadows", out.register.shadows)
        obs += [event_obs(ev, now) for ev in out.events]
        if self.commit is not None and obs:
            # Committed before the state says "published": a batch lost here is produced again.
            await self.commit(obs)
        else:
            for o in obs:
                await self.observations.put(o)
        for ev in out.events:
            self.metrics.inc(f"device_events.{ev.event}")
            self.events_total += 1
            text, fields = event_line(ev)
            log.info(text, **fields)
        self.metrics.inc("device_records_published", len(out.devices))
        if out.devices or out.events or batch:
            await self._save(corr)

    async def _save(self, corr: Correlator) -> None:
        try:
            await asyncio.to_thread(self.metrics.charge, "correlation", save_state, self.path, corr.state)
        except OSError as e:
            # Kept in memory and saved with the next batch; if the sensor stops first, what the
            # outbox got is published again at the next start (a duplicate, never a loss).
            self.metrics.inc("correlation_state_save_errors")
            if not self._save_failing:
                log.error("cannot save the correlation state; retrying with the next batch", path=str(self.path),
                          error=str(e))
            self._save_failing = True
        else:
            if self._save_failing:
                log.info("correlation state saved again", path=str(self.path))
            self._save_failing = False


def _switch(item: ToCorrelator) -> str:
    return item.switch


def load_evidence(cfg: Config) -> Evidence | None:
    """The register and advisories the configuration names; a file that cannot be used is logged, not fatal."""
    if cfg.register is None and cfg.advisories is None:
        return None
    from sensor.errors import SensorError
    from sensor.evidence.io import load_advisories, load_register
    from sensor.evidence.register import Settings

    ev = Evidence()
    if cfg.register is not None:
        try:
            parsed = load_register(cfg.register.file, {str(k): v for k, v in cfg.register.columns.items()})
        except SensorError as e:
            log.error("asset register not used", reason=str(e))
        else:
            if parsed.problems:
                # The good rows are used; `sensor register check` lists every problem.
                log.warning("asset register rows rejected", file=cfg.register.file, rejected=parsed.rejected,
                            first=parsed.problems[0], problems=len(parsed.problems))
            ev.register_rows, ev.register_file, ev.register_rejected = parsed.rows, cfg.register.file, parsed.rejected
            ev.register_settings = Settings(unseen_after=float(cfg.register.unseen_after),
                                            locations=cfg.register.locations)
    if cfg.advisories is not None:
        try:
            loaded = load_advisories(cfg.advisories.dir)
        except SensorError as e:
            log.error("advisories not used", reason=str(e))
        else:
            for f, reason in loaded.unreadable:
                log.warning("advisory not used", file=f, reason=reason)
            log.info("advisories loaded", read=len(loaded.advisories), unreadable=len(loaded.unreadable),
                     seconds=round(loaded.seconds, 3))
            ev.advisories = loaded.index()
    return ev


def policy_key(cfg: Config) -> tuple[float, float]:
    from sensor.policy.exports import exports_path

    def mtime(p: str | Path) -> float:
        try:
            return os.stat(p).st_mtime
        except OSError:
            return 0.0

    return (mtime(cfg.policy.file) if cfg.policy.file else 0.0, mtime(exports_path(cfg.sensor.state_dir)))


def load_policy_info(cfg: Config, have: PolicyInfo | None = None, key: tuple[float, float] | None = None
                     ) -> PolicyInfo | None:
    """The approved policy with its last export, or None; ``have`` is kept while neither file changed,
    and also when the approved file no longer parses (the last good policy stays, as for the watch)."""
    from sensor.errors import ConfigError
    from sensor.evidence.controls import PolicyInfo
    from sensor.policy.document import load_policy
    from sensor.policy.exports import load_exports

    if not cfg.policy.file:
        return None
    if have is not None and key == policy_key(cfg):
        return have
    if not Path(cfg.policy.file).exists():
        return None
    try:
        doc = load_policy(cfg.policy.file)
    except ConfigError as e:
        log.warning("approved policy has errors: controls use the last good one", problems=e.problems[:3])
        return have
    digest = doc.digest()
    return PolicyInfo(doc=doc, digest=digest, export=load_exports(cfg.sensor.state_dir).latest(digest))
