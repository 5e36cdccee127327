"""The one TOML configuration file, decoded into frozen typed structs.

``schema`` holds the structs (one per TOML table), ``validate`` decodes the file and reports
every problem as file:line: key path, ``secrets`` reads the ``*_file`` secrets and refuses
files others can read, ``summary`` says in a few lines what a configuration asks for. The
names below are the ones the rest of the sensor uses.
"""

from __future__ import annotations

from sensor.errors import ConfigError, SecretError

from sensor.config.schema import (
    AdvisoriesSection,
    Base,
    ClassificationOverride,
    ClassificationSection,
    CliSection,
    Config,
    CorrelationSection,
    Duration,
    FlowsSection,
    MqttSection,
    NetconfSection,
    OutboxSection,
    PolicySection,
    PollSection,
    RegisterSection,
    SensorSection,
    SnmpSection,
    SwitchSection,
    ZoneSection,
    format_duration,
    parse_duration,
)
from sensor.config.secrets import (
    SECRET_KEYS,
    check_secret_file,
    path_problem,
    read_secret,
)
from sensor.config.summary import (
    summary_lines,
)
from sensor.config.validate import (
    DURATION_BOUNDS,
    LineIndex,
    format_path,
    host_problem,
    load_config,
    parse_config,
)

__all__ = [
    "ConfigError",
    "SecretError",
    "DURATION_BOUNDS",
    "SECRET_KEYS",
    "AdvisoriesSection",
    "Base",
    "ClassificationOverride",
    "ClassificationSection",
    "CliSection",
    "Config",
    "CorrelationSection",
    "Duration",
    "FlowsSection",
    "LineIndex",
    "MqttSection",
    "NetconfSection",
    "OutboxSection",
    "PolicySection",
    "PollSection",
    "RegisterSection",
    "SensorSection",
    "SnmpSection",
    "SwitchSection",
    "ZoneSection",
    "check_secret_file",
    "format_duration",
    "format_path",
    "host_problem",
    "load_config",
    "parse_config",
    "parse_duration",
    "path_problem",
    "read_secret",
    "summary_lines",
]
