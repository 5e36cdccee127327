"""Logging with structlog: JSON lines for machines, readable lines for people.

Every line is bound to what it concerns (``source=snmp:sw1``, ``switch=sw1``).
Secrets are never passed to a logger; as a second line of defence any key that
looks like a secret is masked before rendering.

The format is chosen by, first to last: ``--log-format``, ``$EDGE_SENSOR_LOG_FORMAT``
(``human``, ``json`` or ``auto``), then automatically: JSON lines under systemd
(``$JOURNAL_STREAM`` set: journald keeps every field) or when the stream is not a
terminal, readable lines on a terminal. A line may carry details for machines only
under the key ``detail`` (a mapping): JSON gets them as fields, a person reads the
line's own words, which already say the same.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_WORDS = ("password", "community", "secret", "auth_key", "priv_key", "passphrase")


def _mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(w in key for w in _SECRET_WORDS) and not key.endswith("_file"):
            event[key] = "***"
    return event


FORMAT_ENV = "EDGE_SENSOR_LOG_FORMAT"
FORMATS = ("auto", "human", "json")


def choose_json(fmt: str | None, stream: TextIO) -> bool:
    """Whether to write JSON lines: the explicit format, then the environment, then auto."""
    fmt = (fmt or os.environ.get(FORMAT_ENV) or "auto").strip().lower()
    if fmt == "json":
        return True
    if fmt == "human":
        return False
    if os.environ.get("JOURNAL_STREAM"):
        return True
    return not (hasattr(stream, "isatty") and stream.isatty())


def _details(json: bool) -> Any:
    def proc(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        detail = event.pop("detail", None)
        if json and isinstance(detail, dict):
            for k, v in detail.items():
                event.setdefault(k, v)
        return event
    return proc


def configure(level: str = "info", stream: TextIO | None = None, json: bool | None = None,
              fmt: str | None = None) -> None:
    """Set up structlog; ``json=None`` decides from ``fmt``, the environment and the stream."""
    stream = stream or sys.stderr
    if json is None:
        json = choose_json(fmt, stream)
    tty = hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR")
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=bool(tty), pad_event_to=0, pad_level=False,
                                           exception_formatter=structlog.dev.plain_traceback)
    )
    # JSON: ISO 8601 in UTC, for machines; a person reads the local time, to the second.
    stamper = (structlog.processors.TimeStamper(fmt="iso", utc=True) if json
               else structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False))
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        stamper,
        _details(json),
        _mask_secrets,
    ]
    if json:
        processors.append(structlog.processors.format_exc_info)
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (paho, aiomqtt, pysnmp, asyncio) log through the standard library:
    # render their lines the same way, at warning and above unless we debug.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                stamper,
                _mask_secrets,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
