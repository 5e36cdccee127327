"""Capped exponential backoff with jitter, for reconnects, retries and restarts."""

from __future__ import annotations

import math
import random


class Backoff:
    """Delays base, 2*base, 4*base ... up to ``cap``, each with "equal jitter".

    Half the delay is fixed and half random, so many sensors (or many switches)
    that failed together do not retry in lockstep, yet never retry immediately.
    """

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self, cap: float | None = None) -> float:
        limit = self.cap if cap is None else cap
        ceiling = min(limit, math.ldexp(self.base, min(self.attempt, 30)))
        self.attempt += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempt = 0
