"""The per-switch source: one per configured switch, polled on the supervisor's schedule.

``cycle`` polls the switch once with its methods in order of preference (SNMP, CLI,
NETCONF; sensor/switches/methods.py falls back per table), with at most one poll per switch in
flight and at most ``poll.max_concurrent_switches`` switches at once across the process.
It hands the snapshot to the correlator and always publishes the switch's retained health
on ``switches/{name}``. A failure is re-raised as SourceError so that the supervisor
applies its capped, jittered backoff. (The module keeps its historical name: it began as
the SNMP source.)
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from sensor.config import SwitchSection
from sensor.errors import SensorError, SourceError
from sensor.observations import SwitchHealth
from sensor.publish.outbox import rfc3339
from sensor.sources import SourceContext
from sensor.switches.methods import POLLERS, Poller, PortMemory, SwitchPoll, poll_snmp, poll_switch, usable_methods
from sensor.switches.report import degraded, poll_line


class SwitchSource:
    """Polls one switch over its configured methods."""

    stage = "poll"  # CPU accounting (sensor/metrics.py): SNMP I/O and decoding, CLI, NETCONF

    def __init__(self, switch: SwitchSection, limiter: asyncio.Semaphore,
                 clock: Any = time.time) -> None:
        self.switch = switch
        self._limiter = limiter
        self._busy = asyncio.Lock()
        self._clock = clock
        self._ports = PortMemory()
        self._snmp_rows: dict[str, int] = {}  # the last SNMP poll's rows per table: they size the next walks
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.consecutive_failures = 0
        self.last_health: SwitchHealth | None = None  # what `sensor status` shows of this switch
        self.degraded: list[str] = []  # why the last poll was degraded (empty: it was not)

    @property
    def name(self) -> str:
        return f"{'+'.join(usable_methods(self.switch))}:{self.switch.name}"

    @property
    def interval(self) -> float:
        return float(self.switch.interval)

    @property
    def deadline(self) -> float:
        # The supervisor's deadline covers the whole cycle, the wait for one of the
        # max_concurrent_switches slots included; in a campus's first cycle the last switches wait
        # minutes for one. The switch's own deadline bounds its poll, inside the slot (_poll_budget).
        return max(float(self.switch.deadline), float(self.switch.interval))

    @property
    def continuous(self) -> bool:
        return False  # a poll per interval, not a stream

    def _poll_budget(self) -> float:
        # The switch's deadline, less a little: the poll ends and is reported, not cancelled.
        deadline = float(self.switch.deadline)
        return max(1.0, min(deadline * 0.95, deadline - 1.0))

    async def cycle(self, ctx: SourceContext) -> None:
        if self._busy.locked():
            ctx.metrics.inc("polls_skipped")
            ctx.log.warning("previous poll still running: skipping this cycle", switch=self.switch.name)
            return
        async with self._busy:
            await self._cycle(ctx)

    async def _cycle(self, ctx: SourceContext) -> None:
        sw = self.switch
        result: SwitchPoll | None = None
        error: SourceError | None = None
        async with self._limiter:
            ctx.metrics.inc("polls")
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._poll_budget()):
                    pollers: dict[str, Poller] = {
                        **POLLERS, "snmp": functools.partial(poll_snmp, row_hints=self._snmp_rows)}
                    result = await poll_switch(sw, clock=self._clock, memory=self._ports, pollers=pollers)
            except TimeoutError:
                error = SourceError(f"poll of {sw.host} did not finish within {self._poll_budget():g}s "
                                    f"(deadline {float(sw.deadline):g}s): the switch is slow or the tables are huge")
            except SourceError as e:
                error = e
            except SensorError as e:  # a secret file that went missing or changed mode
                error = SourceError(str(e))
        now = self._clock()
        duration = time.monotonic() - started
        if result is not None:
            self.last_success, self.last_error, self.consecutive_failures = now, None, 0
            self.degraded = degraded(result, sw.uplinks)
            text, detail = poll_line(sw.name, result, self.degraded)
            (ctx.log.warning if self.degraded else ctx.log.info)(text, detail=detail)
            if self.degraded:
                ctx.metrics.inc("polls_degraded")
            snmp = result.snmp
            if snmp is not None:
                ctx.metrics.inc("varbinds", snmp.varbinds)
                self._snmp_rows = dict(snmp.rows)
            if len(result.results) > 1 or result.failures:
                ctx.metrics.inc("poll_fallbacks")
            if result.snapshot.errors:
                ctx.metrics.inc("poll_table_errors", len(result.snapshot.errors))
            await ctx.snapshot(result.snapshot)
        else:
            self.consecutive_failures += 1
            self.last_error = str(error)
            ctx.metrics.inc("poll_errors")
            ctx.metrics.inc(f"poll_errors.{sw.name}")
            self.degraded = []
        self.last_health = self.health(result, duration)
        await ctx.switch_health(self.last_health, now)
        if error is not None:
            raise error

    def health(self, result: SwitchPoll | None, duration: float) -> SwitchHealth:
        snap = result.snapshot if result else None
        snmp = result.snmp if result else None
        return SwitchHealth(
            switch=self.switch.name,
            host=self.switch.host,
            method=snap.method if snap else usable_methods(self.switch)[0],
            methods=snap.table_methods if snap else {},
            method_errors=dict(result.failures) if result else {},
            ok=result is not None,
            last_success=rfc3339(self.last_success) if self.last_success is not None else None,
            last_error=self.last_error,
            consecutive_failures=self.consecutive_failures,
            duration_s=round(duration, 3),
            varbinds=snmp.varbinds if snmp else 0,
            requests=snmp.requests if snmp else 0,
            rows=dict(sorted(snmp.rows.items())) if snmp else {},
            table_rows={"interfaces": len(snap.interfaces), "fdb": len(snap.fdb), "arp": len(snap.arp),
                        "lldp": len(snap.lldp)} if snap else {},
            fdb_unmapped=sum(1 for f in snap.fdb if f.ifindex is None and f.status == "learned") if snap else 0,
            table_errors=list(snap.errors) if snap else [],
            notes=list(snap.notes) if snap else [],
            sys_name=snap.system.sys_name if snap and snap.system else None,
            uplinks=list(self.switch.uplinks),
            ports=len(snap.interfaces) if snap else None,
            ports_up=sum(1 for i in snap.interfaces if i.oper_up) if snap else None,
            degraded=list(self.degraded),
        )


def switch_sources(switches: list[SwitchSection], max_concurrent: int) -> list[SwitchSource]:
    """One source per switch with a usable method, sharing one process-wide concurrency limit."""
    limiter = asyncio.Semaphore(max_concurrent)
    return [SwitchSource(sw, limiter) for sw in switches if usable_methods(sw)]
