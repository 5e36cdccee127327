"""One device's monitoring summary: what the flow source hands the correlator (no imports from flows, so
the directory protocol can name it without a cycle)."""

from __future__ import annotations

import msgspec


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """One device's monitoring, as the correlator needs it."""

    flows_24h: int = 0
    windows_24h: int = 0
    last_flow: float | None = None
    baseline_since: float | None = None
    learning_until: float | None = None
    anomalies_30d: int = 0
    violations_30d: int = 0
