"""The one TOML configuration file, decoded into frozen typed structs.

``schema`` holds the structs (one per TOML table), ``validate`` decodes the file and reports
every problem as file:line: key path, ``secrets`` reads the ``*_file`` secrets and refuses
files others can read, ``summary`` says in a few lines what a configuration asks for. The
names below are the ones the rest of the sensor uses.
"""

from __future__ import annotations

from sensor.config.schema import (
    AdvisoriesSection,
    AuthProtocol,
    Base,
    ClassificationOverride,
    ClassificationSection,
    ClassName,
    CliPlatform,
    CliSection,
    Config,
    CorrelationSection,
    Duration,
    FlowsSection,
    MacText,
    MqttSection,
    Name,
    NetconfSection,
    OuiText,
    OutboxSection,
    PolicySection,
    PollSection,
    Port,
    Positive,
    PrivProtocol,
    RegisterField,
    RegisterSection,
    SensorSection,
    SnmpSection,
    SnmpVersion,
    SwitchSection,
    VlanId,
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
from sensor.errors import ConfigError, SecretError

__all__ = [
    "DURATION_BOUNDS",
    "SECRET_KEYS",
    "AdvisoriesSection",
    "AuthProtocol",
    "Base",
    "ClassName",
    "ClassificationOverride",
    "ClassificationSection",
    "CliPlatform",
    "CliSection",
    "Config",
    "ConfigError",
    "CorrelationSection",
    "Duration",
    "FlowsSection",
    "LineIndex",
    "MacText",
    "MqttSection",
    "Name",
    "NetconfSection",
    "OuiText",
    "OutboxSection",
    "PolicySection",
    "PollSection",
    "Port",
    "Positive",
    "PrivProtocol",
    "RegisterField",
    "RegisterSection",
    "SecretError",
    "SensorSection",
    "SnmpSection",
    "SnmpVersion",
    "SwitchSection",
    "VlanId",
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
