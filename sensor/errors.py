"""The sensor's own exceptions.

Every message is written for the network engineer reading it: it says what is
wrong and what to do, and never needs a traceback to be understood.
"""

from __future__ import annotations

# The collectors' errors (one switch or exporter failed) are theirs; re-exported here so the
# sensor names every error it reports from one place.
from collectors.errors import CollectorError, SourceError, SwitchAuthError, SwitchUnreachable, TableError

__all__ = ["USER_ERRORS", "CollectorError", "ConfigError", "HubAuthError", "HubError", "SecretError", "SensorError",
           "SourceError", "StoreError", "SwitchAuthError", "SwitchUnreachable", "TableError"]


class SensorError(Exception):
    """Base of every error the sensor reports to its user."""

    exit_code = 1


class ConfigError(SensorError):
    """The configuration file cannot be used; ``problems`` lists every finding."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class UsageError(SensorError):
    """A command-line argument that cannot be used (said in one line)."""

    exit_code = 2


class SecretError(SensorError):
    """A secret file is missing, unreadable or too widely readable."""

    exit_code = 2


class HubError(SensorError):
    """The MQTT hub refused or could not be reached."""


class HubAuthError(HubError):
    """The hub refused the username or password (or the client certificate)."""


class StoreError(SensorError):
    """The local outbox/state store cannot be opened or written."""


class StoreFullError(StoreError):
    """The state directory's file system has no room: nothing new can be committed until it has."""


# Every error written for the user: caught where a command or a source reports it in one line.
USER_ERRORS: tuple[type[Exception], ...] = (SensorError, CollectorError)
