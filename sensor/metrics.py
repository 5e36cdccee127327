"""Counters that the health message reports; one process-wide registry.

CPU per stage: every asyncio callback (task steps, transport readers, timers) runs under
``Handle._run``; ``meter_event_loop`` times each one with the thread's CPU clock and charges
it to the stage named by the ``STAGE`` context variable of the callback's context. Tasks copy
their context when created and a transport's reader copies it when the transport opens, so a
source that sets ``STAGE`` at its start gets the CPU of its own tasks *and* of its sockets'
callbacks (for SNMP, that is where pysnmp decodes BER). Work on executor threads is charged by
the code that submits it (``charge``). Two clock reads per callback: well under a microsecond.
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


def meter_event_loop(metrics: Metrics) -> None:
    """Charge the CPU of every asyncio callback of this process to its STAGE in ``metrics``."""
    if not _metered:
        original = asyncio.events.Handle._run
        clock = time.thread_time

        def _run(self: asyncio.events.Handle) -> None:
            started = clock()
            try:
                original(self)
            finally:
                ctx = self._context  # type: ignore[attr-defined]
                _metered[0].add_cpu(ctx.get(STAGE, "other") if ctx is not None else "other", clock() - started)

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]
        _metered.append(metrics)
    _metered[0] = metrics
