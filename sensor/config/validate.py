"""Decode and check the TOML file, reporting every problem with file:line: key path.

    sensor.toml:14: switch[2].snmp.version: expected one of "1", "2c", "3", got "v3"

``[[switch]]`` tables are counted from 1 in key paths, as a person counts them. All problems
are collected before reporting, so one run of ``sensor check-config`` lists everything that
needs fixing. Every duration has a floor (``DURATION_BOUNDS``)."""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib  # Python >= 3.11 only: Debian 12 and Raspberry Pi OS Bookworm ship 3.11
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from sensor.config.schema import (
    CliSection,
    Config,
    CorrelationSection,
    Duration,
    FlowsSection,
    MqttSection,
    NetconfSection,
    PolicySection,
    RegisterSection,
    SensorSection,
    SnmpSection,
    SwitchSection,
    _dec_hook,
    _describe,
    format_duration,
)
from sensor.config.secrets import _INLINE_SECRETS, SECRET_KEYS, check_secret_file, path_problem, read_secret
from sensor.errors import ConfigError, SecretError

# --- duration bounds ------------------------------------------------------

# Every Duration key has a floor (and a ceiling where a protocol has one), with the reason shown to
# the user. Zero or tiny values ran away: health_interval = "0s" wrote 37,382 health messages in 6 s;
# interval = deadline = "0s" polled in a loop at 100% CPU.
DURATION_BOUNDS: dict[tuple[type[msgspec.Struct], str], tuple[float, float | None, str]] = {
    (SensorSection, "health_interval"): (5, None, "every health message goes into the outbox; more often "
                                                  "floods it and pushes out device records"),
    (MqttSection, "keepalive"): (5, 65535, "the MQTT keep-alive is a 16-bit number of seconds, and shorter "
                                           "than 5s disconnects on a busy link"),
    (MqttSection, "drain_timeout"): (1, None, "`run --once` needs time to hear the hub's acknowledgements"),
    (MqttSection, "republish_min_interval"): (1, None, "each full republish sends every retained message again; "
                                                       "no limit lets a flapping broker flood itself"),
    (SwitchSection, "interval"): (10, None, "polling a switch more often loads its CPU and the sensor's "
                                            "for no new information"),
    (SwitchSection, "deadline"): (1, None, "no poll finishes faster; a shorter deadline fails every poll"),
    (SnmpSection, "timeout"): (0.1, None, "it is the wait for one SNMP answer; less gives up on a "
                                          "healthy switch"),
    (CliSection, "timeout"): (0.1, None, "it is the wait for the SSH login and each command"),
    (NetconfSection, "timeout"): (0.1, None, "it is the wait for the NETCONF session and each reply"),
    (CorrelationSection, "absence"): (1, None, "it is rounded up to at least one missed poll anyway"),
    (CorrelationSection, "flap_window"): (1, None, "moves are counted within this window"),
    (CorrelationSection, "full_refresh"): (3600, None, "each refresh re-publishes every device record; "
                                                       "more often floods the outbox"),
    (CorrelationSection, "last_seen_refresh"): (60, None, "each refresh re-publishes the records of every "
                                                          "device still seen; more often floods the outbox"),
    (CorrelationSection, "forget_after"): (3600, None, "a device is forgotten this long after it "
                                                       "disappeared; sooner makes short absences lose history"),
    (FlowsSection, "window"): (1, None, "conversations are summed and published once per window"),
    (FlowsSection, "learning_period"): (3600, None, "a baseline needs traffic to learn from; shorter "
                                                    "reports every new peer as an anomaly"),
    (FlowsSection, "realert"): (60, None, "the same anomaly is not reported again within this time; "
                                          "shorter floods the hub with events"),
    (PolicySection, "window"): (3600, None, "the observed matrix keeps flows this long; shorter forgets them "
                                            "before a policy can be proposed from them"),
    (PolicySection, "stale_after"): (3600, None, "a rule is marked stale after this long unseen; shorter marks "
                                                 "rules stale between two flow windows"),
    (RegisterSection, "unseen_after"): (3600, None, "a registered device is unseen after this long without "
                                                    "a poll seeing it; shorter than the polls marks present "
                                                    "devices unseen"),
}
# A Duration added without an entry above still gets a floor (tests/test_config_inputs.py asks for one).
_DEFAULT_BOUNDS: tuple[float, float | None, str] = (1, None, "no duration of the sensor means anything below 1s")


def _check_durations(node: msgspec.Struct, path: KeyPath, out: _Collector) -> None:
    """Walk the decoded config and hold every Duration to its bounds in DURATION_BOUNDS."""
    for f in msgspec.structs.fields(node):
        value = getattr(node, f.name)
        here = (*path, f.encode_name)
        if isinstance(value, Duration):
            low, high, why = DURATION_BOUNDS.get((type(node), f.name), _DEFAULT_BOUNDS)
            if value < low:
                out.add(here, f"{format_duration(value)} is too short: at least {format_duration(low)}: {why}")
            elif high is not None and value > high:
                out.add(here, f"{format_duration(value)} is too long: at most {format_duration(high)}: {why}")
        elif isinstance(value, msgspec.Struct):
            _check_durations(value, here, out)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, msgspec.Struct):
                    _check_durations(item, (*here, i), out)
        elif isinstance(value, dict):
            for k, item in value.items():
                if isinstance(item, msgspec.Struct):
                    _check_durations(item, (*here, k), out)


# --- line numbers ---------------------------------------------------------

_KEYPART_RE = r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'"""
_KEYLINE = re.compile(rf"^\s*((?:{_KEYPART_RE})(?:\s*\.\s*(?:{_KEYPART_RE}))*)\s*=")
_KEYPART = re.compile(_KEYPART_RE)

KeyPath = tuple[str | int, ...]


def _header(line: str) -> tuple[str, str] | None:
    """``("[", key)`` or ``("[[", key)`` when ``line`` is a table header, else None.

    Plain string operations, not a regular expression: the pattern this replaces backtracked
    cubically on a "[" followed by spaces (2.7 s at 2,000 spaces, over 120 s at 8,000), a line
    that is valid inside a multi-line array. This is linear in the length of the line.
    """
    s = line.lstrip()
    if not s.startswith("["):
        return None
    kind = "[[" if s.startswith("[[") else "["
    end = s.find("]", len(kind))
    if end < 0:
        return None
    key = s[len(kind):end].strip()
    rest = s[end + 1:]
    if kind == "[[":
        if not rest.startswith("]"):
            return None
        rest = rest[1:]
    rest = rest.strip()
    if not key or (rest and not rest.startswith("#")):
        return None
    return kind, key


def _split_key(text: str) -> list[str]:
    return [p.strip("\"'") for p in _KEYPART.findall(text)]


class LineIndex:
    """Recovers the line of every key path from the TOML source (tomllib gives none)."""

    def __init__(self, source: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        arrays: dict[tuple[str, ...], int] = {}
        current: KeyPath = ()
        in_multiline = False
        for no, line in enumerate(source.splitlines(), start=1):
            # Skip the inside of multi-line strings, where "key =" is just text.
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = not in_multiline
                continue
            if in_multiline:
                continue
            h = _header(line)
            if h and not _KEYLINE.match(line):
                parts = _split_key(h[1])
                resolved: list[str | int] = []
                for i, part in enumerate(parts):
                    resolved.append(part)
                    key = tuple(parts[: i + 1])
                    is_last = i == len(parts) - 1
                    if h[0] == "[[" and is_last:
                        arrays[key] = arrays.get(key, 0) + 1
                        resolved.append(arrays[key] - 1)
                    elif key in arrays:
                        resolved.append(arrays[key] - 1)
                current = tuple(resolved)
                self.lines.setdefault(current, no)
                continue
            k = _KEYLINE.match(line)
            if k:
                self.lines.setdefault((*current, *_split_key(k.group(1))), no)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest enclosing table."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


# --- validation -----------------------------------------------------------



_MSGSPEC_AT = re.compile(r" - at `\$[^`]*`$")
_TYPE_WORDS = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
               "array": "an array", "object": "a table", "null": "nothing"}


def _humanize(msg: str, value: Any) -> str:
    msg = _MSGSPEC_AT.sub("", msg)
    m = re.match(r"Expected `([^`]+)`, got `([^`]+)`$", msg)
    if m:
        want = " or ".join(_TYPE_WORDS.get(w.strip(), w.strip()) for w in m.group(1).split("|"))
        return f"expected {want}, got {_describe(value)}"
    m = re.match(r"Expected `([^`]+)` (.+)$", msg)
    if m:
        return f"expected {_TYPE_WORDS.get(m.group(1), m.group(1))} {m.group(2)}, got {_describe(value)}"
    return msg[0].lower() + msg[1:] if msg else msg


class _Collector:
    def __init__(self, filename: str, index: LineIndex) -> None:
        self.filename = filename
        self.index = index
        self.problems: list[tuple[int, str]] = []

    def add(self, path: KeyPath, message: str) -> None:
        line = self.index.line_of(path)
        where = f"{self.filename}:{line}" if line else self.filename
        self.problems.append((line or 0, f"{where}: {format_path(path)}: {message}"))

    def messages(self) -> list[str]:
        return [m for _, m in sorted(self.problems, key=lambda p: p[0])]


def _struct_type(tp: Any) -> type[msgspec.Struct] | None:
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    return None


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _check_value(tp: Any, value: Any, path: KeyPath, out: _Collector) -> None:
    inner = _unwrap_optional(tp)
    base = typing.get_args(inner)[0] if typing.get_origin(inner) is Annotated else inner
    st = _struct_type(base)
    if st is not None:
        _check_struct(st, value, path, out)
        return
    origin = typing.get_origin(base)
    if origin is Literal:
        choices = typing.get_args(base)
        if value not in choices:
            want = ", ".join(f'"{c}"' if isinstance(c, str) else str(c) for c in choices)
            out.add(path, f"expected one of {want}, got {_describe(value)}")
        return
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(base)
        for i, v in enumerate(value):
            _check_value(item, v, (*path, i), out)
        return
    if origin is dict and isinstance(value, dict):
        key_type, item = typing.get_args(base)
        for k, v in value.items():
            if typing.get_origin(key_type) is Literal and k not in typing.get_args(key_type):
                known = ", ".join(typing.get_args(key_type))
                out.add((*path, k), f"unknown key (known keys: {known})")
                continue
            _check_value(item, v, (*path, k), out)
        return
    try:
        msgspec.convert(value, tp, dec_hook=_dec_hook)
    except msgspec.ValidationError as e:
        out.add(path, _humanize(str(e), value))


def _check_struct(cls: type[msgspec.Struct], data: Any, path: KeyPath, out: _Collector) -> None:
    if not isinstance(data, dict):
        out.add(path, f"expected a table, got {_describe(data)}")
        return
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls) if f.name != "path"}
    hints = typing.get_type_hints(cls, include_extras=True)
    for key in data:
        if key in fields:
            continue
        msg = f"unknown key (known keys: {', '.join(sorted(fields))})"
        if key in _INLINE_SECRETS:
            msg = f"secrets are never written inline: put it in a file readable only by the sensor and use {key}_file"
        else:
            close = difflib.get_close_matches(key, list(fields), n=1)
            if close:
                msg = f'unknown key; did you mean "{close[0]}"?'
        out.add((*path, key), msg)
    for key, f in fields.items():
        if key not in data:
            if f.required:
                out.add(path, f'missing required key "{key}"')
            continue
        _check_value(hints[f.name], data[key], (*path, key), out)


_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def host_problem(host: str) -> str | None:
    """Why ``host`` is neither an IP address nor a DNS name, or None when it is one."""
    import ipaddress

    if not host.strip():
        return 'the host is empty: give a DNS name or an IP address, like "10.20.0.11"'
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if "://" in host or "/" in host:
        return f'"{host}" is not a host name: give only the name or address, like "hub.example.org"'
    if host.startswith("[") or host.count(":") == 1:
        return f'"{host}": give the host without brackets or a port (the port has its own key)'
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return f'"{host}" is neither an IP address nor a valid DNS name (letters, digits, "-" and "." only)'
    if all(label.isdigit() for label in labels):
        return f'"{host}" is not a valid IPv4 address'
    return None


def _check_names(cfg: Config, out: _Collector) -> None:
    """Hosts and topics that the network libraries would refuse only later, with a vaguer message."""
    for i, sw in enumerate(cfg.switch):
        problem = host_problem(sw.host)
        if problem:
            out.add(("switch", i, "host"), problem)
    if cfg.mqtt is None:
        return
    problem = host_problem(cfg.mqtt.host)
    if problem:
        out.add(("mqtt", "host"), problem)
    prefix = cfg.mqtt.topic_prefix
    bad = sorted({c for c in prefix if c in "#+\0"})
    if bad:
        # A wildcard in a topic we publish to is a protocol error: the hub drops the connection and
        # the sensor used to report only "hub not reachable: Operation timed out".
        shown = ", ".join('"\\0"' if c == "\0" else f'"{c}"' for c in bad)
        out.add(("mqtt", "topic_prefix"), f"{shown} cannot be part of a topic the sensor publishes to "
                                          '(MQTT wildcards): use a plain path like "edge-sensor/v1"')
    elif not prefix.strip("/") or prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        out.add(("mqtt", "topic_prefix"), f'"{prefix}" has an empty level: use a path like "edge-sensor/v1"')


def _check_state_dir(state_dir: str, out: _Collector) -> None:
    """state_dir is created if missing, so it must be a directory or creatable as one."""
    p = Path(state_dir)
    try:
        if p.exists():
            if not p.is_dir():
                out.add(("sensor", "state_dir"), f"{state_dir} is a file, not a directory: "
                                                 "name a directory the sensor may write to")
            return
        # Missing: the sensor creates it, below its nearest existing ancestor.
        parent = next(a for a in p.absolute().parents if a.exists())
        if not parent.is_dir():
            out.add(("sensor", "state_dir"), f"{state_dir}: {parent} is a file, not a directory: fix the path")
            return
        p.stat()  # raises for a loop, which exists() reports as missing
    except FileNotFoundError:
        pass
    except OSError as e:
        out.add(("sensor", "state_dir"), path_problem(state_dir, e))
    except ValueError:
        out.add(("sensor", "state_dir"), f"{state_dir!r} is not a path")


def _semantic_checks(cfg: Config, out: _Collector) -> None:
    seen: dict[str, int] = {}
    _check_names(cfg, out)
    if cfg.flows is not None:
        _check_flows(cfg.flows, out)
    _check_zones(cfg.policy, out)
    for i, sw in enumerate(cfg.switch):
        p: KeyPath = ("switch", i)
        if sw.name in seen:
            first = seen[sw.name] + 1
            out.add((*p, "name"), f'"{sw.name}" is already the name of switch[{first}]: names must be unique')
        seen.setdefault(sw.name, i)
        if "snmp" in sw.methods and sw.snmp is None:
            out.add(p, 'methods lists "snmp" but there is no [switch.snmp] table for this switch')
        if len(set(sw.methods)) != len(sw.methods):
            out.add((*p, "methods"), "each method may be listed once")
        if not sw.methods:
            out.add((*p, "methods"), 'list at least one method, e.g. ["snmp"]')
        if sw.snmp is not None:
            _check_snmp(sw.snmp, (*p, "snmp"), cfg, out)
        for method, section in (("cli", sw.cli), ("netconf", sw.netconf)):
            if method in sw.methods and section is None:
                out.add(p, f'methods lists "{method}" but there is no [switch.{method}] table for this switch')
            if section is not None:
                _check_ssh(section, (*p, method), out)
    for name, prof in cfg.snmp_profile.items():
        if prof.profile is not None:
            out.add(("snmp_profile", name, "profile"), "a profile cannot refer to another profile")
    if cfg.mqtt is not None:
        m = cfg.mqtt
        if (m.cert_file is None) != (m.key_file is None):
            out.add(("mqtt",), "cert_file and key_file go together: give both for a client certificate, or neither")
        if (m.ca_file or m.cert_file) and not m.tls:
            out.add(("mqtt", "tls"), "ca_file/cert_file are set but tls is false: set tls = true")
        if m.password_file and not m.username:
            out.add(("mqtt", "password_file"), "a password needs a username: add username")


def _check_flows(f: FlowsSection, out: _Collector) -> None:
    import ipaddress

    for i, addr in enumerate(f.listen):
        host, sep, port = addr.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            ipaddress.ip_address(host)
            ok = bool(sep) and port.isdigit() and 1 <= int(port) <= 65535
        except ValueError:
            ok = False
        if not ok:
            out.add(("flows", "listen", i), f'expected "address:port" like "0.0.0.0:2055" or "[::]:4739", got "{addr}"')
    if len(set(f.listen)) != len(f.listen):
        out.add(("flows", "listen"), "each address may be listed once")
    for key in ("allowed_exporters", "prefer_exporters", "internal", "dns_resolvers", "it_management", "medical"):
        for i, net in enumerate(getattr(f, key)):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                out.add(("flows", key, i), f'expected an address or prefix like "10.20.0.0/24", got "{net}"')
    if not f.allowed_exporters:
        out.add(("flows",), 'allowed_exporters is empty: every datagram would be dropped; list the exporters, '
                'e.g. allowed_exporters = ["10.20.0.0/24"]')
    for exporter in f.sampling:
        try:
            ipaddress.ip_address(exporter)
        except ValueError:
            out.add(("flows", "sampling", exporter),
                    f'expected an exporter address like "10.20.0.11", got "{exporter}"')


def _check_zones(p: PolicySection, out: _Collector) -> None:
    import ipaddress

    names: dict[str, int] = {}
    for i, z in enumerate(p.zone):
        path: KeyPath = ("policy", "zone", i)
        if z.name in names:
            out.add((*path, "name"), f'"{z.name}" is already zone[{names[z.name] + 1}]: give each zone one table')
        names.setdefault(z.name, i)
        if z.name == "external" and (z.classes or z.macs or z.ports or z.hosts or z.subnets):
            out.add((*path, "name"), 'zone "external" is what lies outside [flows] internal: change internal instead')
        for j, net in enumerate(z.subnets):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                out.add((*path, "subnets", j), f'expected a prefix like "10.20.30.0/24", got "{net}"')
        for j, host in enumerate(z.hosts):
            try:
                ipaddress.ip_address(host)
            except ValueError:
                out.add((*path, "hosts", j), f'expected an address like "10.20.30.5", got "{host}"')
        for j, port in enumerate(z.ports):
            switch, sep, name = port.partition(":")
            if not sep or not switch or not name:
                out.add((*path, "ports", j), f'expected "switch:port" like "idf2-access-1:Gi1/0/5", got "{port}"')


def _check_ssh(s: CliSection | NetconfSection, p: KeyPath, out: _Collector) -> None:
    if not s.password_file and not s.key_file:
        out.add(p, "give password_file or key_file (a file readable only by the sensor)")
    if s.host_key_file and s.insecure_no_host_key_check:
        out.add((*p, "insecure_no_host_key_check"), "host_key_file is set: remove insecure_no_host_key_check")
    if not s.host_key_file and not s.insecure_no_host_key_check:
        out.add(p, "host keys are checked: give host_key_file (known_hosts format, e.g. from "
                   "`ssh-keyscan`), or set insecure_no_host_key_check = true to accept any key")


def _check_snmp(s: SnmpSection, p: KeyPath, cfg: Config, out: _Collector) -> None:
    if s.profile is not None and s.profile not in cfg.snmp_profile:
        known = ", ".join(sorted(cfg.snmp_profile)) or "none defined"
        out.add((*p, "profile"), f'no [snmp_profile.{s.profile}] table (profiles: {known})')
        return
    if s.version in ("1", "2c") and not s.community_file:
        out.add(p, f'SNMP v{s.version} needs community_file (a file holding the community string)')
    if s.version == "3":
        if not s.user:
            out.add(p, 'SNMP v3 needs user')
        if s.priv_protocol and not s.auth_protocol:
            out.add((*p, "priv_protocol"), "privacy needs authentication: set auth_protocol too")
        for proto, key in (("auth_protocol", "auth_key_file"), ("priv_protocol", "priv_key_file")):
            if getattr(s, proto) and not getattr(s, key):
                out.add(p, f"{proto} is set but {key} is missing")
            if getattr(s, key) and not getattr(s, proto):
                out.add(p, f"{key} is set but {proto} is missing")
        if s.community_file:
            out.add(
                (*p, "community_file"),
                'SNMP v3 uses user and keys, not a community: remove community_file or use version = "2c"',
            )
    elif s.user or s.auth_key_file or s.priv_key_file:
        out.add(p, f'user/auth/priv keys are SNMP v3 settings but version is "{s.version}"')


# Secrets the sensor reads as text; key_file is handed to SSH/TLS libraries that read it themselves.
_TEXT_SECRET_KEYS = SECRET_KEYS - {"key_file"}


def _check_plain_file(path: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ConfigError([f"{path} does not exist"]) from None
    except OSError as e:
        raise ConfigError([path_problem(path, e)]) from None
    except ValueError:
        raise ConfigError([f"{path!r} is not a path"]) from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError([f"{path} is not a regular file"])
    if not os.access(path, os.R_OK):
        raise ConfigError([f"{path} cannot be read by this user (uid {os.getuid()}): fix its owner or mode"])


def _check_utf8(path: str) -> None:
    try:
        Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path} is not UTF-8 text (invalid byte at offset {e.start}): save it as UTF-8"]) from None
    except OSError as e:
        raise ConfigError([path_problem(path, e)]) from None


def _check_pem_ca(path: str) -> None:
    """The hub's CA file must hold PEM certificates: Python's TLS reads nothing else from a file."""
    import ssl

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except ssl.SSLError as e:
        raise ConfigError([f"{path} holds no PEM certificate ({e.reason or e}): give the CA certificate in PEM "
                           "format (-----BEGIN CERTIFICATE-----); convert a DER file with "
                           "`openssl x509 -inform der -in ca.der -out ca.pem`"]) from None
    except OSError as e:
        raise ConfigError([path_problem(path, e)]) from None


def _check_files(node: Any, path: KeyPath, out: _Collector) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if path in (("register",), ("advisories",)) and k in ("file", "dir") and isinstance(v, str):
                ok = os.path.isdir(v) if k == "dir" else os.path.isfile(v)
                if not ok or not os.access(v, os.R_OK):
                    what = "a directory of CSAF JSON files" if k == "dir" else "the register's CSV export"
                    out.add((*path, k), f"{v} does not exist or cannot be read: give {what}")
                continue
            if isinstance(v, (dict, list)):
                _check_files(v, (*path, k), out)
            elif isinstance(v, str) and k.endswith("_file"):
                try:
                    if k in _TEXT_SECRET_KEYS:
                        read_secret(v)  # decoded now, as the sources will: not UTF-8 is found here
                    elif k in SECRET_KEYS:
                        check_secret_file(v)
                    else:
                        _check_plain_file(v)
                        if k == "ca_file" and path == ("mqtt",):
                            _check_pem_ca(v)
                        if k == "rules_file":
                            _check_utf8(v)
                except SecretError as e:
                    out.add((*path, k), str(e))
                except ConfigError as e:
                    out.add((*path, k), e.problems[0])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_files(v, (*path, i), out)


def _merge_profiles(raw: dict[str, Any]) -> dict[str, Any]:
    """Give each switch the keys of its SNMP profile that it does not set itself."""
    profiles = raw.get("snmp_profile") or {}
    switches = raw.get("switch")
    if not isinstance(profiles, dict) or not isinstance(switches, list):
        return raw
    merged = []
    for sw in switches:
        snmp = sw.get("snmp") if isinstance(sw, dict) else None
        if isinstance(snmp, dict) and isinstance(profiles.get(snmp.get("profile")), dict):
            base = {k: v for k, v in profiles[snmp["profile"]].items() if k != "profile"}
            sw = {**sw, "snmp": {**base, **snmp}}
        merged.append(sw)
    return {**raw, "switch": merged}


def parse_config(source: str, filename: str = "sensor.toml", *, check_files: bool = True) -> Config:
    """Decode TOML text into a Config, or raise ConfigError listing every problem."""
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        where = f"{filename}:{m.group(1)}" if m else filename
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise ConfigError([f"{where}: not valid TOML: {reason}"]) from None
    out = _Collector(filename, LineIndex(source))
    _check_struct(Config, raw, (), out)
    unusable = bool(out.problems)  # the tables do not decode: the checks below cannot run
    if check_files:  # from the raw tables: reported with every other problem, all at once
        _check_files(raw, (), out)
    if unusable:
        raise ConfigError(out.messages())
    # Before profiles are merged: a duration is reported once, where it is written.
    _check_durations(msgspec.convert(raw, Config, dec_hook=_dec_hook), (), out)
    cfg = msgspec.convert(_merge_profiles(raw), Config, dec_hook=_dec_hook)
    _semantic_checks(cfg, out)
    if check_files:
        _check_state_dir(cfg.sensor.state_dir, out)
    if out.problems:
        raise ConfigError(out.messages())
    return msgspec.structs.replace(cfg, path=filename)


def load_config(path: str | os.PathLike[str], *, check_files: bool = True) -> Config:
    """Read and validate the configuration file at ``path``."""
    p = Path(path)
    try:
        source = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: no such file: give the path of the sensor's TOML configuration"]) from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as e:
        raise ConfigError([f"{p}: cannot be read: {e}"]) from None
    except OSError as e:  # a symbolic link loop, a path through a file
        raise ConfigError([path_problem(str(p), e)]) from None
    cfg = parse_config(source, str(p), check_files=check_files)
    return msgspec.structs.replace(cfg, path=str(p))
