"""Counters that the health message reports; one process-wide registry."""

from __future__ import annotations

from collections import Counter


class Metrics:
    """Monotonic counters keyed by name (``polls``, ``errors.sw1``, ...), plus gauges."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.gauges: dict[str, float | int | str | None] = {}

    def inc(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def set(self, name: str, value: float | int | str | None) -> None:
        self.gauges[name] = value

    def snapshot(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = dict(sorted(self.counters.items()))
        out.update(sorted(self.gauges.items()))
        return out
