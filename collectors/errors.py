"""The collectors' own exceptions: what went wrong talking to one switch or exporter.

``collectors`` is the floor of the project and knows nothing of the sensor; the sensor
re-exports these from ``sensor.errors``. Each error carries a ``kind`` (see
:data:`collectors.facts.ProblemKind`) so that callers decide on the kind, never on the
words of the message, which are written for the network engineer reading them.
"""

from __future__ import annotations

from collectors.facts import ProblemKind


class CollectorError(Exception):
    """Base of every error a collector reports; ``str(e)`` says what to do."""

    exit_code = 1
    kind: ProblemKind = "other"

    def __init__(self, message: str, *, kind: ProblemKind | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class SourceError(CollectorError):
    """One source (a switch, a listener) failed; reported and counted, never fatal."""


class SwitchUnreachable(SourceError):
    """The switch did not answer within its timeout."""

    kind: ProblemKind = "timeout"


class SwitchAuthError(SourceError):
    """The switch refused the sensor's credentials."""

    kind: ProblemKind = "auth"


class TableError(SourceError):
    """One table could not be read completely (the rest of the poll goes on)."""

    kind: ProblemKind = "partial"
