"""Refilling the broker's retained state: when it lost it, or when a hub asks.

A broker restarted without persistence holds none of the sensor's retained messages
(device records, switches, register, policy), and they would come back only one by
one as they change. The publisher notices on connect (no retained status of its own
comes back) and a hub can ask (a message on ``{prefix}/{site}/{sensor}/republish``);
either way ``Republisher.request`` is called and the outbox commits every retained
message again, then a ``snapshot_complete`` event.

Rate-limited: at most one republish per ``min_interval``. Requests in between are
not lost but coalesced into one republish at the end of the interval, so a flapping
broker or a hub asking in a loop costs one full republish per interval at most.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from sensor.errors import StoreError
from sensor.metrics import Metrics
from sensor.publish.outbox import Outbox

log = structlog.get_logger("sensor.republish")

LOST = "broker lost retained state"
REQUESTED = "hub request"


class Republisher:
    def __init__(self, outbox: Outbox, metrics: Metrics, *, min_interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.outbox = outbox
        self.metrics = metrics
        self.min_interval = min_interval
        self.clock = clock
        self._pending: str | None = None
        self._bound: int | None = None  # republish only seqs below this (None: every retained topic)
        self._wake = asyncio.Event()
        self._next_allowed = 0.0
        self.done = 0

    def request(self, reason: str, before_seq: int | None = None) -> None:
        """Ask for a full republish; coalesced with any request still waiting.

        ``before_seq`` (a loss found on connect): what was committed from then on goes to the
        new broker anyway, so only older retained topics need it.
        """
        self.metrics.inc("republish_requests")
        if self._pending is not None:
            self.metrics.inc("republish_coalesced")
            # A loss outranks a request in what the event says; the wider selection wins.
            if reason == LOST:
                self._pending = LOST
            if self._bound is not None:
                self._bound = None if (before_seq is None or reason == REQUESTED) else max(self._bound, before_seq)
            return
        self._pending = reason
        self._bound = before_seq if reason == LOST else None
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self._next_allowed - self.clock()
            if wait > 0:
                self.metrics.inc("republish_deferred")
                log.info("republish rate-limited: deferred", reason=self._pending, in_s=round(wait, 1),
                         min_interval_s=self.min_interval)
                await asyncio.sleep(wait)
            reason = self._pending
            if reason is None:
                continue
            bound, self._pending, self._bound = self._bound, None, None
            try:
                done = await self.outbox.republish(reason, bound)
            except StoreError as e:
                # Not committed: ask again, after the interval (the outbox says why meanwhile).
                log.error("republish could not be committed; trying again later", error=str(e))
                self.metrics.inc("republish_errors")
                self.request(reason, bound)
                self._next_allowed = self.clock() + self.min_interval
                continue
            if done is None:
                # Nothing was sent to an earlier broker (a new sensor): nothing to refill, no signal.
                log.info("the broker holds no retained state of this sensor, and none was sent before")
                continue
            self._next_allowed = self.clock() + self.min_interval
            self.done += 1
            self.metrics.inc("republishes")
            log.info("retained state republished", reason=reason, messages=sum(done.retained.values()),
                     per_kind=done.retained, first_seq=done.first_seq, last_seq=done.last_seq)
