"""The supervisor: one asyncio process, one TaskGroup of named tasks.

Start order: outbox, then the publisher, then the sources. Stop order (SIGTERM,
SIGINT): sources first, then whatever they queued is committed to the outbox,
then the publisher gets a short grace for in-flight PUBACKs. A source that fails
is logged and retried with capped, jittered backoff; it never takes the others
down.

When the outbox cannot be written (the state disk is full), nothing is dropped and
nothing crashes: every commit waits and retries with backoff, the queues fill and
hold the sources back, health and the systemd status carry one clear error, and
work resumes by itself once there is room. Opening the outbox on a full disk waits
the same way, so a restart under systemd does not become a crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import msgspec
import structlog

from sensor import __version__, notify
from sensor.backoff import Backoff
from sensor.config import Config
from sensor.correlate.stage import CorrelatorStage
from sensor.directory import DeviceDirectory
from sensor.errors import SensorError, SourceError, StoreError, StoreFullError
from sensor.metrics import STAGE, Metrics, fold_loop_cpu, meter_event_loop
from sensor.observations import HealthData, Observation, health_obs
from sensor.publish.mqtt import Publisher
from sensor.publish.outbox import Outbox, outbox_path, rfc3339
from sensor.publish.republish import Republisher
from sensor.sources import Source, SourceContext, ToCorrelator

OBSERVATION_QUEUE = 2000
SNAPSHOT_QUEUE = 2048  # snapshots and switch health: room for a whole campus while the correlator pauses
STOP_BUDGET = 8.0  # seconds: SIGTERM must end the process within 10 s
STATUS_FILE = "status.json"  # what `sensor status` reads: rewritten after polls and each health interval
# After a poll, status.json is rewritten at once unless it was written less than this ago; then once
# when the gap is over. A campus cycle finishes a thousand polls in two minutes, and each rewrite
# covers every switch (about 1 MB there): one per poll was half of a steady cycle's CPU and a
# gigabyte written per cycle to the appliance's SD card.
STATUS_MIN_GAP = 2.0
# Backpressure: while the hub is connected and the outbox holds HIGH_WATER messages, whoever commits
# (the writer; the correlator with its records) waits for it to drain to LOW_WATER; the queues
# behind them fill and the pollers wait, so a first cycle's burst (50,000 device records) never
# piles up in SQLite faster than the hub takes it. With the hub away nothing waits: the outbox
# stores (up to outbox.max_messages).
OUTBOX_HIGH_WATER = 10_000
OUTBOX_LOW_WATER = 5_000
# One transaction (one fsync) per chunk: 1,000 envelopes are ~3 MB encoded at once, 5,000 were ~14 MB.
COMMIT_CHUNK = 1_000

log = structlog.get_logger("sensor.supervisor")


def build_sources(cfg: Config, directory: DeviceDirectory | None = None) -> list[Source]:
    """Every source the configuration asks for, in start order: registered here, explicitly.

    ``directory`` is what the correlator knows about devices; the flow source resolves
    addresses through it and feeds the ports it sees back to classification.
    """
    # pysnmp, netmiko and ncclient load only when a switch is polled with them.
    from sensor.switches.source import switch_sources

    sources: list[Source] = []
    sources.extend(switch_sources(cfg.switch, cfg.poll.max_concurrent_switches))
    if cfg.flows is not None:
        from sensor.flows.source import flow_sources

        sources.extend(flow_sources(cfg, directory))
    return sources


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Supervisor:
    retry_base = 5.0  # seconds before the first retry of a failed cycle; doubles up to the interval

    def __init__(self, cfg: Config, *, sources: list[Source] | None = None) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        # Shared between the correlator (addresses, medical classes) and the flow source (ports seen).
        self.directory = DeviceDirectory(
            medical_prefixes=cfg.flows.medical if cfg.flows else (),
            internal_prefixes=cfg.flows.internal if cfg.flows else (),
        )
        self.sources = build_sources(cfg, self.directory) if sources is None else sources
        self.observations: asyncio.Queue[Observation] = asyncio.Queue(OBSERVATION_QUEUE)
        self.snapshots: asyncio.Queue[ToCorrelator] = asyncio.Queue(SNAPSHOT_QUEUE)
        self.outbox = Outbox(
            outbox_path(cfg.sensor.state_dir),
            site=cfg.sensor.site,
            sensor_id=cfg.sensor.id,
            max_messages=cfg.outbox.max_messages,
            metrics=self.metrics,
        )
        self.publisher: Publisher | None = None
        self.stop_event = asyncio.Event()
        self.started_at = time.time()
        self.failures: dict[str, str] = {}
        self.exit_reason = ""
        self.store_error: str | None = None  # set while the outbox cannot be written
        self.store_failing_since: float | None = None  # monotonic time of the first failure of this episode
        self.store_backoff = (0.5, 10.0)  # seconds: first retry and cap while the outbox cannot be written
        self.stage: CorrelatorStage | None = None
        self.status_path = Path(cfg.sensor.state_dir) / STATUS_FILE
        self._status_written = -STATUS_MIN_GAP  # monotonic time of the last write of status.json
        self._status_pending: asyncio.TimerHandle | None = None
        self.retained: dict[str, int] = {}
        self.republisher: Republisher | None = None

    # -- stages -------------------------------------------------------------
    async def _writer(self) -> None:
        """Move observations from the queue into the outbox, many per commit."""
        STAGE.set("outbox")
        while True:
            first = await self.observations.get()
            batch = [first]
            while len(batch) < 5000:
                try:
                    batch.append(self.observations.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                await self.commit(batch)
            finally:
                for _ in batch:
                    self.observations.task_done()

    async def commit(self, batch: list[Observation]) -> None:
        """Commit ``batch`` to the outbox, waiting as long as it takes for the outbox to be writable.

        Both producers come here (the writer, and the correlator with its records), so this is where
        they wait while the hub catches up (OUTBOX_HIGH_WATER); a big batch (a first correlation of a
        campus: 50,000 records) goes in chunks with a wait between them.
        """
        for i in range(0, len(batch), COMMIT_CHUNK):
            await self._backpressure()
            await self._commit(batch[i:i + COMMIT_CHUNK])

    async def _commit(self, batch: list[Observation]) -> None:
        backoff = Backoff(base=self.store_backoff[0], cap=self.store_backoff[1])
        while True:
            try:
                await self.outbox.append(batch)
            except StoreFullError as e:
                self._store_failing(e, "commit")
                await asyncio.sleep(backoff.next())
            else:
                self._store_ok()
                return

    def _store_failing(self, e: StoreError, what: str) -> None:
        self.metrics.inc("outbox_write_errors")
        if self.store_error != str(e):
            # One line per kind of failure, not one per retry; health and systemd carry it meanwhile.
            log.error(f"{e}; waiting, nothing is dropped", retrying=what, pending=self.observations.qsize())
            notify.status(f"waiting: {e}")
        self.store_error = str(e)
        if self.store_failing_since is None:
            self.store_failing_since = time.monotonic()
        self.metrics.set("outbox_writable", 0)

    def _store_ok(self) -> None:
        if self.store_error is not None:
            log.info("the outbox is writable again", previous_error=self.store_error)
            notify.status(f"running {len(self.sources)} sources; outbox writable again")
            self.store_error = None
            self.store_failing_since = None
            self.metrics.set("outbox_writable", 1)

    def _gave_up(self, limit: float | None) -> bool:
        return (limit is not None and self.store_failing_since is not None
                and time.monotonic() - self.store_failing_since > limit)

    async def _open_outbox(self, give_up_after: float | None = None) -> bool:
        """Open the outbox; on a full disk wait for room (or a stop). False when stopped or given up first."""
        backoff = Backoff(base=self.store_backoff[0], cap=self.store_backoff[1])
        while True:
            try:
                await self.outbox.open()
            except StoreFullError as e:
                self._store_failing(e, "open")
            else:
                self._store_ok()
                return True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff.next()):
                    await self.stop_event.wait()
            if self.stop_event.is_set() or self._gave_up(give_up_after):
                return False

    async def _backpressure(self) -> None:
        pub = self.publisher
        if pub is None or self.outbox.depth < OUTBOX_HIGH_WATER or not pub.connected.is_set():
            return
        self.metrics.inc("outbox_backpressure_waits")
        # Polled, not an event: outbox.changed belongs to the publisher's pump.
        while (  # noqa: ASYNC110
            self.outbox.depth >= OUTBOX_LOW_WATER and pub.connected.is_set() and not self.stop_event.is_set()
        ):
            await asyncio.sleep(0.05)

    def _context(self, name: str) -> SourceContext:
        return SourceContext(name, self.observations, self.snapshots, self.metrics)

    async def _run_source(self, src: Source) -> None:
        """Run ``src`` every ``interval``; on failure retry with backoff, never give up."""
        ctx = self._context(src.name)
        backoff = Backoff(base=min(self.retry_base, src.interval), cap=src.interval)
        loop = asyncio.get_running_loop()
        next_start = loop.time()
        while True:
            ok = await self._one_cycle(src, ctx)
            if not src.continuous:
                self.request_status()  # `sensor status` shows every poll, not one per health interval
            now = loop.time()
            if ok and src.continuous:
                backoff.reset()
                next_start, delay = now, 0.0
            elif ok:
                backoff.reset()
                next_start += src.interval
                if next_start < now:
                    skipped = int((now - next_start) // src.interval) + 1
                    ctx.log.warning(
                        "cycle took longer than its interval: skipping cycles",
                        interval_s=src.interval,
                        skipped=skipped,
                    )
                    ctx.metrics.inc(f"cycles_skipped.{src.name}", skipped)
                    next_start += skipped * src.interval
                delay = next_start - now
            else:
                delay = backoff.next()
                next_start = now + delay
                ctx.log.info("retrying after backoff", retry_in_s=round(delay, 1))
            await asyncio.sleep(delay)

    async def _one_cycle(self, src: Source, ctx: SourceContext) -> bool:
        started = time.monotonic()
        # Everything this cycle runs, its sockets' callbacks included, is charged to the source's stage.
        STAGE.set(getattr(src, "stage", "sources"))
        try:
            async with asyncio.timeout(src.deadline):
                await src.cycle(ctx)
        except TimeoutError:
            msg = f"did not finish within its deadline of {src.deadline:g}s"
            ctx.log.warning("cycle failed", error=msg)
        except SourceError as e:
            msg = str(e)
            ctx.log.warning("cycle failed", error=msg)
        except Exception as e:
            # A bug, not a bad switch: keep the traceback, restart the source.
            msg = f"crashed: {type(e).__name__}: {e}"
            ctx.log.exception("source crashed; it will be restarted")
            self.metrics.inc(f"source_restarts.{src.name}")
        else:
            self.metrics.inc(f"cycles.{src.name}")
            self.failures.pop(src.name, None)
            return True
        finally:
            self.metrics.set(f"cycle_seconds.{src.name}", round(time.monotonic() - started, 3))
        self.metrics.inc(f"cycle_errors.{src.name}")
        self.failures[src.name] = msg
        return False

    def health_data(self) -> HealthData:
        now = time.time()
        fold_loop_cpu()
        pub = self.publisher
        return HealthData(
            version=__version__,
            started_at=rfc3339(self.started_at),
            uptime_s=round(now - self.started_at, 1),
            outbox_depth=self.outbox.depth,
            outbox_max=self.outbox.max_messages,
            outbox_dropped_total=self.outbox.dropped_total,
            outbox_last_dropped_seq=self.outbox.last_dropped_seq,
            observation_queue=self.observations.qsize(),
            sources=len(self.sources),
            failing_sources=dict(sorted(self.failures.items())),
            counters=self.metrics.snapshot(),
            hub_connected=pub.connected.is_set() if pub is not None else None,
            hub_last_error=str(pub.last_error) if pub is not None and pub.last_error else None,
            outbox_error=self.store_error,
            retained=dict(sorted(self.retained.items())),
        )

    async def emit_health(self) -> None:
        try:
            self.retained = await self.outbox.retained_counts()
        except StoreError as e:
            log.debug("cannot count the retained messages for health", error=str(e))
        await self.observations.put(health_obs(self.health_data(), time.time()))

    async def _health_loop(self) -> None:
        while True:
            await self.emit_health()
            self.log_health()
            self.write_status("running")
            await asyncio.sleep(self.cfg.sensor.health_interval)

    # -- what an operator sees ---------------------------------------------------
    def _switches(self) -> list[Any]:
        from sensor.switches.source import SwitchSource

        return [s for s in self.sources if isinstance(s, SwitchSource)]

    def _flows(self) -> Any:
        from sensor.flows.source import FlowSource

        return next((s for s in self.sources if isinstance(s, FlowSource)), None)

    def log_health(self) -> None:
        """The periodic health line: switches, devices, hub, outbox, flows."""
        h = self.health_data()
        sw = self._switches()
        failing = [s.switch.name for s in sw if s.last_error]
        degraded = [s.switch.name for s in sw if s.degraded]
        polled = [s for s in sw if s.last_health is not None]
        ok = sum(1 for s in polled if not s.last_error)
        if h.hub_connected is None:
            hub = "no hub configured"
        elif h.hub_connected:
            hub = "hub connected"
        else:
            hub = f"hub NOT connected ({h.hub_last_error or 'connecting'})"
        parts = [f"up {_duration(h.uptime_s)}",
                 f"switches {ok}/{len(sw)} ok" + (f" (not polled yet: {len(sw) - len(polled)})"
                                                  if len(polled) < len(sw) else "")
                 + (f", degraded: {', '.join(degraded)}" if degraded else "")
                 + (f", failing: {', '.join(failing)}" if failing else ""),
                 f"{h.counters.get('devices', 0)} devices", hub,
                 f"outbox {h.outbox_depth}"
                 + (f" ({h.outbox_dropped_total} dropped)" if h.outbox_dropped_total else "")]
        fl = self._flows()
        if fl is not None and fl.last_window:
            lw = fl.last_window
            records = sum(e["records"] for e in lw["exporters"].values())
            parts.append(f"flows {records} records from {len(lw['exporters'])} exporter(s) last window")
        bad = bool(failing or degraded or h.hub_connected is False or h.outbox_dropped_total)
        (log.warning if bad else log.info)(
            "health: " + ", ".join(parts),
            detail={"uptime_s": h.uptime_s, "switches": len(sw), "switches_ok": ok, "degraded": degraded,
                    "failing": failing, "devices": h.counters.get("devices", 0), "hub_connected": h.hub_connected,
                    "hub_last_error": h.hub_last_error, "outbox_depth": h.outbox_depth,
                    "outbox_dropped_total": h.outbox_dropped_total})

    def status_doc(self, state: str) -> dict[str, Any]:
        """What `sensor status` shows: written to the state directory, read by another process."""
        h = self.health_data()
        pub = self.publisher
        fl = self._flows()
        return {
            "state": state, "pid": os.getpid(), "version": __version__, "sensor": self.cfg.sensor.id,
            "site": self.cfg.sensor.site, "started_at": h.started_at, "written_at": rfc3339(time.time()),
            "health_interval_s": float(self.cfg.sensor.health_interval),
            # The structs as they are: msgspec encodes them without building a dict for each.
            "switches": {s.switch.name: s.last_health if s.last_health else
                         {"switch": s.switch.name, "host": s.switch.host, "ok": None}
                         for s in self._switches()},
            "hub": None if self.cfg.mqtt is None else {
                "where": pub.where if pub else f"{self.cfg.mqtt.host}:{self.cfg.mqtt.effective_port}",
                "connected": h.hub_connected, "last_error": h.hub_last_error},
            "outbox": {"depth": h.outbox_depth, "max": h.outbox_max, "dropped_total": h.outbox_dropped_total,
                       "last_dropped_seq": h.outbox_last_dropped_seq},
            "flows": None if fl is None else {
                "listen": list(fl.cfg.listen), "window_s": float(fl.cfg.window), "last_window": fl.last_window,
                "this_window": {a: {"datagrams": d, "records": r} for a, (d, r) in sorted(fl.by_exporter.items())}},
            "failing_sources": h.failing_sources,
            "counters": h.counters,
        }

    def request_status(self) -> None:
        """Rewrite status.json now, or once STATUS_MIN_GAP after the last write (many requests, one write)."""
        if self._status_pending is not None:
            return
        wait = self._status_written + STATUS_MIN_GAP - time.monotonic()
        if wait <= 0:
            self.write_status("running")
        else:
            self._status_pending = asyncio.get_running_loop().call_later(wait, self._pending_status)

    def _pending_status(self) -> None:
        self._status_pending = None
        self.write_status("running")

    def write_status(self, state: str) -> None:
        """Atomically replace status.json (0600, like every state file); a failure is logged, never fatal."""
        if self._status_pending is not None:  # this write covers it
            self._status_pending.cancel()
            self._status_pending = None
        self._status_written = time.monotonic()
        try:
            from sensor.statefiles import write_atomic

            write_atomic(self.status_path, msgspec.json.encode(self.status_doc(state)) + b"\n")
        except OSError as e:
            log.warning("cannot write the status file: `sensor status` will be out of date",
                        path=str(self.status_path), error=str(e))

    # -- lifecycle ------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("stopping", signal=sig.name)
        notify.stopping(f"stopping on {sig.name}")
        self.stop_event.set()

    async def run(self, *, once: bool = False, drain_timeout: float | None = None) -> int:
        """Run until stopped (or one cycle with ``once``); returns the exit code."""
        meter_event_loop(self.metrics)
        if not await self._open_outbox(self._once_limit(drain_timeout) if once else None):
            await self.outbox.close()
            log.info("sensor stopped before the outbox could be opened", error=self.store_error)
            if once:
                self.exit_reason = f"{self.store_error}; run again when there is room"
                return 1
            return 0
        log.info(
            "sensor starting",
            version=__version__,
            sensor=self.cfg.sensor.id,
            site=self.cfg.sensor.site,
            sources=[s.name for s in self.sources],
            outbox_depth=self.outbox.depth,
            next_seq=self.outbox.next_seq,
        )
        try:
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(self._writer(), name="outbox-writer")
                pub_task = None
                rep_task = None
                if self.cfg.mqtt is not None:
                    self.republisher = Republisher(self.outbox, self.metrics,
                                                   min_interval=float(self.cfg.mqtt.republish_min_interval))
                    rep_task = tg.create_task(self.republisher.run(), name="republisher")
                    self.publisher = Publisher(
                        self.cfg.mqtt, self.outbox, site=self.cfg.sensor.site,
                        sensor_id=self.cfg.sensor.id, metrics=self.metrics, republisher=self.republisher,
                        health_interval=float(self.cfg.sensor.health_interval),
                    )
                    pub_task = tg.create_task(self.publisher.run(), name="publisher")
                stage = self.stage = CorrelatorStage(self.cfg, self.snapshots, self.observations, self.metrics,
                                                     directory=self.directory, commit=self.commit,
                                                     known=self._stored_devices,
                                                     expect=[s.switch.name for s in self._switches()])
                correlator = tg.create_task(stage.run(), name="correlator")
                self.write_status("running")
                if once:
                    code = await self._once(drain_timeout)
                else:
                    await self._forever(tg)
                    code = 0
                # Stop order: sources are done; correlate and commit what they queued, then the publisher.
                stage.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.snapshots.join(), timeout=STOP_BUDGET / 4)
                correlator.cancel()
                if rep_task is not None:
                    rep_task.cancel()
                await self._drain(STOP_BUDGET / 2)
                if self.publisher is not None and pub_task is not None:
                    await self.publisher.stop(grace=0 if once else 1.0)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(asyncio.shield(pub_task), timeout=1.0)
                    pub_task.cancel()
                writer.cancel()
        finally:
            self.write_status("stopped")
            await self.outbox.close()
        fold_loop_cpu()
        log.info("sensor stopped", outbox_depth=self.outbox.depth, next_seq=self.outbox.next_seq,
                 outbox_depth_max=self.outbox.depth_max, published=self.metrics.counters["published"],
                 **self.metrics.cpu_seconds())
        return code

    async def _drain(self, within: float) -> bool:
        """Wait for the queued observations to be committed; False (and said why) if they cannot be."""
        try:
            await asyncio.wait_for(self.observations.join(), timeout=within)
        except TimeoutError:
            log.error("stopping with observations not committed; what they describe is produced again "
                      "at the next start", queued=self.observations.qsize(), error=self.store_error)
            return False
        return True

    async def _stored_devices(self) -> tuple[set[str], bool]:
        """MACs of the device records in the local store, and whether the outbox was just replaced."""
        topics = await self.outbox.retained_topics("devices/")
        return {t.removeprefix("devices/") for t in topics}, self.outbox.damage is not None

    async def _forever(self, tg: asyncio.TaskGroup) -> None:
        tasks = [tg.create_task(self._run_source(s), name=s.name) for s in self.sources]
        tasks.append(tg.create_task(self._health_loop(), name="health"))
        # systemd (Type=notify): ready once the outbox is open and the sources started;
        # the watchdog is petted from this event loop, so a hung loop gets the sensor restarted.
        tasks.append(tg.create_task(notify.watchdog_loop(), name="watchdog"))
        notify.ready(f"running {len(self.sources)} sources; outbox depth {self.outbox.depth}")
        await self.stop_event.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The last word before stopping: final counters, committed like everything else.
        if await self._drain(STOP_BUDGET / 2):
            await self.emit_health()

    def _once_limit(self, drain_timeout: float | None) -> float:
        """How long ``--once`` waits for an outbox that cannot be written before it gives up."""
        if drain_timeout is not None:
            return drain_timeout
        return float(self.cfg.mqtt.drain_timeout) if self.cfg.mqtt is not None else 30.0

    async def _once(self, drain_timeout: float | None) -> int:
        # A script must not hang on a full disk: give up (exit 1, the reason said) after the drain timeout.
        limit = self._once_limit(drain_timeout)
        body = asyncio.create_task(self._once_body(drain_timeout), name="once")
        while not body.done():
            await asyncio.wait({body}, timeout=0.5)
            if not body.done() and self._gave_up(limit):
                body.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await body
                self.exit_reason = (f"{self.store_error}; gave up after {limit:g}s: what was not committed is "
                                    f"produced again by the next run")
                return 1
        return body.result()

    async def _once_body(self, drain_timeout: float | None) -> int:
        started = time.monotonic()
        fl = self._flows()
        if fl is not None:
            fl.countdown = True
            log.info(f"waiting one flow window ({float(fl.cfg.window):g}s) for flows; switches are polled meanwhile")
        async with asyncio.TaskGroup() as tg:
            for s in self.sources:
                tg.create_task(self._one_cycle(s, self._context(s.name)), name=s.name)
        if self.stage is not None:
            self.stage.release()  # a switch whose cycle was cancelled never reports: do not wait for it
        await self.snapshots.join()  # every snapshot correlated (and its observations queued)
        # Health last, once everything before it is committed, so its counters are final.
        await self.observations.join()
        await self.emit_health()
        await self.observations.join()
        reasons = [f"{name}: {msg}" for name, msg in sorted(self.failures.items())]
        if self.publisher is not None and self.cfg.mqtt is not None:
            wait = self.cfg.mqtt.drain_timeout if drain_timeout is None else drain_timeout
            if not await self.publisher.drained(wait):
                err = self.publisher.last_error
                why = str(err) if err else f"hub {self.publisher.where} did not acknowledge in time"
                reasons.append(
                    f"{why}; {self.outbox.depth} messages wait in the outbox and will be sent by the next run"
                )
        self.log_summary(time.monotonic() - started, acked=not reasons or self.publisher is None)
        if reasons:
            self.exit_reason = "; ".join(reasons)
            return 1
        degraded = [f"{s.switch.name}: {why}" for s in self._switches() for why in s.degraded]
        if degraded:
            self.exit_reason = "worked, but degraded: " + "; ".join(degraded)
            return 3
        return 0

    def log_summary(self, seconds: float, *, acked: bool) -> None:
        """The last word of `run --once`: what every source did."""
        sw = self._switches()
        failed = [s.switch.name for s in sw if s.last_error]
        degraded = [s.switch.name for s in sw if s.degraded]
        events = self.stage.events_total if self.stage is not None else 0
        parts = [f"{len(sw) - len(failed)}/{len(sw)} switches polled"
                 + (f" (degraded: {', '.join(degraded)})" if degraded else "")
                 + (f" (failed: {', '.join(failed)})" if failed else ""),
                 f"{self.metrics.gauges.get('devices', 0)} devices present", f"{events} device events"]
        fl = self._flows()
        if fl is not None and fl.last_window:
            ex = fl.last_window["exporters"]
            parts.append(f"{sum(e['records'] for e in ex.values())} flow records from {len(ex)} exporter(s), "
                         f"{fl.last_window['devices']} device(s) talking")
        if self.publisher is not None:
            parts.append("the hub acknowledged everything" if acked and self.outbox.depth == 0
                         else f"{self.outbox.depth} messages wait in the outbox")
        else:
            parts.append("no hub: kept in the local store")
        (log.warning if failed or degraded or not acked else log.info)(
            f"once: done in {seconds:.1f}s: " + "; ".join(parts),
            detail={"seconds": round(seconds, 1), "switches": len(sw), "failed": failed, "degraded": degraded,
                    "devices": self.metrics.gauges.get("devices", 0), "events": events,
                    "outbox_depth": self.outbox.depth})


async def run_sensor(cfg: Config, *, once: bool = False, drain_timeout: float | None = None) -> tuple[int, str]:
    """Run the sensor; returns the exit code and, when non-zero, a one-line reason."""
    sup = Supervisor(cfg)
    sup.install_signal_handlers()
    try:
        code = await sup.run(once=once, drain_timeout=drain_timeout)
        return code, sup.exit_reason
    except SensorError:
        raise
    except BaseExceptionGroup as eg:
        # Surface our own error (e.g. a store that cannot be opened) without a traceback.
        for e in eg.exceptions:
            if isinstance(e, SensorError):
                raise e from None
        raise
