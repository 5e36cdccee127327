"""The configuration file's schema: frozen typed structs, one per TOML table, and durations."""

from __future__ import annotations

import os
import re
import socket
import typing
from typing import Annotated, Any, Literal

import msgspec

from collectors.cli.platforms import CLI_PLATFORMS


class Duration(float):
    """Seconds, written in the file as "90s", "5m", "1h" or "1h30m"."""


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> Duration:
    """Parse "90s", "5m", "1h30m", "250ms" into seconds; ValueError says what is accepted."""
    s = text.strip()
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f'expected a duration like "90s", "5m" or "1h", got "{text}"')
    return Duration(total)


def _dec_hook(tp: type, obj: Any) -> Any:
    if tp is Duration:
        if isinstance(obj, str):
            return parse_duration(obj)
        raise ValueError(f'expected a duration like "90s", "5m" or "1h", got {_describe(obj)}')
    raise NotImplementedError


Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


def _default_sensor_id() -> str:
    return socket.gethostname().split(".")[0] or "edge-sensor"


def _default_state_dir() -> str:
    # systemd's StateDirectory= hands us the path; elsewhere the FHS default.
    return os.environ.get("STATE_DIRECTORY", "/var/lib/edge-sensor").split(":")[0]


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class SensorSection(Base, frozen=True):
    site: Name
    id: Name = msgspec.field(default_factory=_default_sensor_id)
    state_dir: str = msgspec.field(default_factory=_default_state_dir)
    health_interval: Duration = Duration(60)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class MqttSection(Base, frozen=True):
    host: str
    port: Port | None = None  # 1883, or 8883 with TLS
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password_file: str | None = None
    client_id: str | None = None
    keepalive: Duration = Duration(60)
    topic_prefix: str = "edge-sensor/v1"
    max_inflight: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 200
    drain_timeout: Duration = Duration(30)
    # At most one full republish of the retained state per this interval (requests in between wait).
    republish_min_interval: Duration = Duration(300)

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else (8883 if self.tls else 1883)


class OutboxSection(Base, frozen=True):
    max_messages: Annotated[int, msgspec.Meta(ge=100)] = 500_000


SnmpVersion = Literal["1", "2c", "3"]
AuthProtocol = Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"]
# aes192/aes256: net-snmp's key extension (Blumenthal); aes192c/aes256c: Cisco's (Reeder).
PrivProtocol = Literal["des", "aes128", "aes192", "aes256", "aes192c", "aes256c"]


class SnmpSection(Base, frozen=True):
    """SNMP access to one switch, or a named profile shared by several."""

    profile: str | None = None
    version: SnmpVersion = "2c"
    port: Port = 161
    community_file: str | None = None
    user: str | None = None
    auth_protocol: AuthProtocol | None = None
    auth_key_file: str | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key_file: str | None = None
    context: str = ""
    timeout: Duration = Duration(2)
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    max_repetitions: Annotated[int, msgspec.Meta(ge=1, le=200)] = 20
    bulk: bool = True
    vlan_indexing: bool | None = None  # None: detect (Cisco sysObjectID + CISCO-VTP-MIB)
    max_rows: Annotated[int, msgspec.Meta(ge=1)] = 100_000


if typing.TYPE_CHECKING:
    CliPlatform = str
else:  # netmiko device types; the one list is collectors.cli.platforms (a platform is one entry there)
    CliPlatform = Literal[CLI_PLATFORMS]


class CliSection(Base, frozen=True):
    """SSH command-line access to one switch (collectors/cli, netmiko)."""

    platform: CliPlatform
    username: str
    port: Port = 22
    password_file: str | None = None
    key_file: str | None = None
    host_key_file: str | None = None  # known_hosts-format file with this switch's host key
    insecure_no_host_key_check: bool = False
    timeout: Duration = Duration(30)
    enable_password_file: str | None = None


class NetconfSection(Base, frozen=True):
    """NETCONF over SSH access to one switch (collectors/netconf, ncclient)."""

    username: str
    port: Port = 830
    password_file: str | None = None
    key_file: str | None = None
    host_key_file: str | None = None
    insecure_no_host_key_check: bool = False
    timeout: Duration = Duration(30)


class SwitchSection(Base, frozen=True):
    name: Name
    host: str
    methods: list[Literal["snmp", "cli", "netconf"]] = msgspec.field(default_factory=lambda: ["snmp"])
    interval: Duration = Duration(900)
    deadline: Duration = Duration(120)
    uplinks: list[str] = msgspec.field(default_factory=list)
    snmp: SnmpSection | None = None
    cli: CliSection | None = None
    netconf: NetconfSection | None = None


class PollSection(Base, frozen=True):
    max_concurrent_switches: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 16


MacText = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$")]
OuiText = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){2}([:-]?[0-9A-Fa-f]{1,2}){0,2}(/(28|36))?$")
]
ClassName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
VlanId = Annotated[int, msgspec.Meta(ge=1, le=4094)]


class CorrelationSection(Base, frozen=True):
    """How switch facts become device records (sensor/correlate)."""

    absence: Duration = Duration(7200)  # counted in successful polls of the device's switch
    uplink_mac_threshold: Positive = 32  # weakest uplink evidence: a port that learns more MACs
    flap_window: Duration = Duration(600)
    full_refresh: Duration = Duration(86400)  # re-publish every retained device record
    forget_after: Duration = Duration(30 * 86400)  # after disappearing, then an empty retained record
    # A record whose only change is a later last_seen is published again once it moved by this much:
    # a hub's last_seen is never older than this (plus one poll interval).
    last_seen_refresh: Duration = Duration(3600)


class ClassificationOverride(Base, frozen=True):
    """One user decision: exactly one of mac, oui or vendor says which devices it covers."""

    device_class: ClassName = msgspec.field(name="class")
    mac: MacText | None = None
    oui: OuiText | None = None
    vendor: str | None = None  # organisation name, matched as a whole name
    function: str | None = None
    note: str = ""


class ClassificationSection(Base, frozen=True):
    rules_file: str | None = None  # extra rules (same format as the shipped rules), applied after them
    override: list[ClassificationOverride] = msgspec.field(default_factory=list)


class ZoneSection(Base, frozen=True):
    """One zone by clinical function: a default zone extended or a new one, and who belongs to it.

    A device's zone is decided by the most specific match: MAC, then switch port, then
    host address, then subnet (longest prefix), then device class, then the default.
    """

    name: ClassName
    label: str = ""
    protected: bool | None = None  # whose traffic the policy governs; default: the medical zones
    workstations: bool | None = None  # its devices count as workstations for the flat-network finding
    classes: list[ClassName] = msgspec.field(default_factory=list)
    subnets: list[str] = msgspec.field(default_factory=list)
    hosts: list[str] = msgspec.field(default_factory=list)
    macs: list[MacText] = msgspec.field(default_factory=list)
    ports: list[str] = msgspec.field(default_factory=list)  # "switch:port", e.g. "idf2-access-1:Gi1/0/5"
    vlans: list[VlanId] = msgspec.field(default_factory=list)  # where its devices are expected


class PolicySection(Base, frozen=True):
    """Zones by clinical function, the observed matrix's window, and the approved policy file.

    ``workstation_classes`` and ``expected_vlans`` are the older way to say where classes
    belong; they keep working, and ``sensor check-config`` says how to move them into zones.
    """

    file: str | None = None  # the approved policy (TOML), under change control
    zone: list[ZoneSection] = msgspec.field(default_factory=list)
    window: Duration = Duration(30 * 86400)  # the observed communication matrix keeps this much
    stale_after: Duration = Duration(14 * 86400)  # a rule not seen for this long is marked stale
    min_observations: Positive = 3  # fewer (windows x devices) and a flow is listed for review, not allowed
    max_hosts: Positive = 4  # more distinct peers than this in one zone and a rule names the zone
    applications: dict[Annotated[str, msgspec.Meta(pattern=r"^(tcp|udp|sctp)/[0-9]{1,5}$")],
                       Annotated[str, msgspec.Meta(min_length=1, max_length=64)]] = msgspec.field(
        default_factory=dict)  # "tcp/5001" = "ASTM (analyzer to LIS)": site names for ports
    max_flows: Positive = 1_000_000  # entries in the observed matrix; the oldest are dropped beyond it
    workstation_classes: list[ClassName] | None = None  # deprecated: [[policy.zone]] workstations = true
    expected_vlans: dict[str, list[VlanId]] = msgspec.field(default_factory=dict)  # deprecated: zone vlans


class FlowsSection(Base, frozen=True):
    """NetFlow v5/v9 and IPFIX collection, conversations, baselines and anomaly rules."""

    listen: list[str] = msgspec.field(default_factory=lambda: ["0.0.0.0:2055", "0.0.0.0:4739"])
    allowed_exporters: list[str] = msgspec.field(default_factory=list)  # addresses or prefixes
    # A flow several exporters report is counted once, from the nearest: the device's access
    # switch, else the first of these (addresses or prefixes) that exported it, else a configured switch.
    prefer_exporters: list[str] = msgspec.field(default_factory=list)
    window: Duration = Duration(300)
    rcvbuf: Annotated[int, msgspec.Meta(ge=65536, le=1 << 30)] = 32 << 20
    sampling: dict[str, Annotated[int, msgspec.Meta(ge=1, le=1 << 24)]] = msgspec.field(default_factory=dict)
    internal: list[str] = msgspec.field(
        default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"])
    dns_resolvers: list[str] = msgspec.field(default_factory=list)
    it_management: list[str] = msgspec.field(default_factory=list)
    medical: list[str] = msgspec.field(default_factory=list)  # until the classifier says: medical prefixes
    learning_period: Duration = Duration(7 * 86400)
    realert: Duration = Duration(86400)
    volume_factor: Annotated[float, msgspec.Meta(gt=1)] = 10.0
    volume_min_bytes: Annotated[int, msgspec.Meta(ge=0)] = 10_000_000
    max_exporters: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 256
    max_templates_per_exporter: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 512
    max_flows_per_window: Annotated[int, msgspec.Meta(ge=100)] = 200_000
    max_devices: Annotated[int, msgspec.Meta(ge=1)] = 20_000
    max_peers_per_device: Annotated[int, msgspec.Meta(ge=1)] = 2_000


RegisterField = Literal["asset_tag", "manufacturer", "model", "serial", "mac", "ip", "department", "location",
                        "owner", "high_risk", "patchable", "end_of_support", "firmware"]


class RegisterSection(Base, frozen=True):
    """The asset register (a CSV export of the maintenance system) to reconcile with the network."""

    file: str
    columns: dict[RegisterField, str] = msgspec.field(default_factory=dict)  # field -> the export's header
    unseen_after: Duration = Duration(7 * 86400)  # a registered device not seen this long is "unseen"
    locations: dict[str, list[Name]] = msgspec.field(default_factory=dict)  # register location -> switches


class AdvisoriesSection(Base, frozen=True):
    """CSAF 2.0 advisories (e.g. CISA's ICS Medical Advisories) to match devices against."""

    dir: str


class Config(Base, frozen=True):
    sensor: SensorSection
    mqtt: MqttSection | None = None
    outbox: OutboxSection = msgspec.field(default_factory=OutboxSection)
    poll: PollSection = msgspec.field(default_factory=PollSection)
    snmp_profile: dict[str, SnmpSection] = msgspec.field(default_factory=dict)
    switch: list[SwitchSection] = msgspec.field(default_factory=list)
    flows: FlowsSection | None = None
    correlation: CorrelationSection = msgspec.field(default_factory=CorrelationSection)
    classification: ClassificationSection = msgspec.field(default_factory=ClassificationSection)
    policy: PolicySection = msgspec.field(default_factory=PolicySection)
    register: RegisterSection | None = None
    advisories: AdvisoriesSection | None = None
    # Set by load_config, not read from the file.
    path: str = ""

    def find_switch(self, name: str) -> SwitchSection | None:
        return next((s for s in self.switch if s.name == name), None)

def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def format_duration(seconds: float) -> str:
    s = int(seconds)
    if seconds != s:
        return f"{seconds:g}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
