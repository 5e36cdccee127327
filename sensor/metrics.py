"""Counters that the health message reports; one process-wide registry.

CPU per stage: every asyncio callback (task steps, transport readers, timers) runs under
``Handle._run``; ``meter_event_loop`` times each one and charges it to the stage named by the
``STAGE`` context variable of the callback's context (see _LoopMeter). Tasks copy
their context when created and a transport's reader copies it when the transport opens, so a
source that sets ``STAGE`` at its start gets the CPU of its own tasks *and* of its sockets'
callbacks (for SNMP, that is where pysnmp decodes BER). Work on executor threads is charged by
the code that submits it (``charge``).
"""

from __future__ import annotations

import asyncio.events
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

STAGE: ContextVar[str] = ContextVar("edge_sensor_stage", default="other")


class Metrics:
    """Monotonic counters keyed by name (``polls``, ``errors.sw1``, ...), plus gauges and CPU per stage."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.gauges: dict[str, float | int | str | None] = {}
        self.cpu: dict[str, float] = {}
        self._cpu_lock = threading.Lock()

    def inc(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def set(self, name: str, value: float | int | str | None) -> None:
        self.gauges[name] = value

    def add_cpu(self, stage: str, seconds: float) -> None:
        """Charge ``seconds`` of CPU to ``stage`` (thread-safe: executor threads call it too)."""
        with self._cpu_lock:
            self.cpu[stage] = self.cpu.get(stage, 0.0) + seconds

    def charge(self, stage: str, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on this thread and charge its CPU to ``stage``."""
        started = time.thread_time()
        try:
            return fn(*args)
        finally:
            self.add_cpu(stage, time.thread_time() - started)

    def cpu_seconds(self) -> dict[str, float]:
        with self._cpu_lock:
            return {f"cpu_seconds.{k}": round(v, 3) for k, v in sorted(self.cpu.items())}

    def snapshot(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = dict(sorted(self.counters.items()))
        out.update(sorted(self.gauges.items()))
        out.update(self.cpu_seconds())
        return out


_metered: list[Metrics] = []
_FOLD_EVERY = 4096  # callbacks between two reads of the thread's CPU clock


class _LoopMeter:
    """Wall time per stage of the event loop's callbacks, folded into CPU seconds now and then.

    Reading a thread's CPU clock is a system call; a monotonic clock is not. Each callback costs
    two monotonic reads; every _FOLD_EVERY callbacks (and whenever the counters are read) the
    loop thread's CPU since the last fold is shared among the stages in proportion to their
    callbacks' wall time (the loop's own bookkeeping is shared the same way).
    """

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.calls = 0
        self.cpu_mark = time.thread_time()

    def fold(self, metrics: Metrics) -> None:
        now = time.thread_time()
        cpu, self.cpu_mark = now - self.cpu_mark, now
        wall, self.wall, self.calls = self.wall, {}, 0
        total = sum(wall.values())
        if total > 0 and cpu > 0:
            for stage, w in wall.items():
                metrics.add_cpu(stage, cpu * w / total)


_meter = _LoopMeter()


def fold_loop_cpu() -> None:
    """Bring the CPU per stage up to date (call from the event loop's thread)."""
    if _metered:
        _meter.fold(_metered[0])


def meter_event_loop(metrics: Metrics) -> None:
    """Charge the CPU of every asyncio callback of this process to its STAGE in ``metrics``."""
    if not _metered:
        original = asyncio.events.Handle._run
        clock = time.perf_counter
        meter = _meter

        def _run(self: asyncio.events.Handle) -> None:
            started = clock()
            try:
                original(self)
            finally:
                ctx = self._context  # type: ignore[attr-defined]
                stage = ctx.get(STAGE, "other") if ctx is not None else "other"
                wall = meter.wall
                wall[stage] = wall.get(stage, 0.0) + clock() - started
                meter.calls += 1
                if meter.calls >= _FOLD_EVERY:
                    meter.fold(_metered[0])

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]
        _metered.append(metrics)
        _meter.cpu_mark = time.thread_time()
    _metered[0] = metrics
