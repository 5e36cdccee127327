"""What a source is, and the explicit list of sources the supervisor runs.

A source turns one origin of data (one switch, one flow listener) into facts and
observations. It has one entry point, ``cycle``; the supervisor owns timing,
timeouts, retries and restarts. The supervisor builds them explicitly
(``sensor.supervisor.build_sources``): no import magic.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog

from collectors.facts import Snapshot
from sensor.metrics import Metrics
from sensor.observations import Observation, SwitchHealth, switch_obs

# What travels to the correlator: snapshots, and each switch's poll health after its snapshot
# (the correlator adds the port roles it detects before publishing it).
ToCorrelator = Snapshot | SwitchHealth


class SourceContext:
    """What a source may do: emit observations and snapshots into bounded queues."""

    def __init__(
        self,
        name: str,
        observations: asyncio.Queue[Observation],
        snapshots: asyncio.Queue[ToCorrelator] | None,
        metrics: Metrics,
    ) -> None:
        self.name = name
        self._observations = observations
        self._snapshots = snapshots
        self.metrics = metrics
        self.log = structlog.get_logger("sensor.source").bind(source=name)

    async def emit(self, obs: Observation) -> None:
        """Queue an observation for the outbox; waits (backpressure) when the queue is full."""
        await self._observations.put(obs)

    async def snapshot(self, snap: Snapshot) -> None:
        """Hand a switch snapshot to the correlator stage."""
        if self._snapshots is None:
            self.metrics.inc("snapshots_unused")
            return
        if self._snapshots.full():
            # Snapshots replace each other per switch: waiting is right, but say so.
            self.log.warning("correlator queue full: waiting", queue=self._snapshots.maxsize)
        await self._snapshots.put(snap)

    async def switch_health(self, health: SwitchHealth, at: float) -> None:
        """Publish a switch's poll health (retained), through the correlator when there is one."""
        if self._snapshots is None:
            await self.emit(switch_obs(health.switch, health, at))
            return
        await self._snapshots.put(health)


class Source(Protocol):
    """One origin of data; ``cycle`` does one full round of work."""

    @property
    def name(self) -> str: ...

    @property
    def interval(self) -> float:
        """Seconds between the starts of two cycles."""
        ...

    @property
    def continuous(self) -> bool:
        """True for a listener whose cycle is one window of a stream: cycles run back to back."""
        ...

    @property
    def deadline(self) -> float:
        """Seconds one cycle may take before it is cancelled and counted as failed."""
        ...

    async def cycle(self, ctx: SourceContext) -> None:
        """Do one round. Raise SourceError for an expected failure (reported in one line)."""
        ...
