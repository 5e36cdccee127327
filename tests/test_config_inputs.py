"""Inputs check-config used to let through (issue 14 items 4-6): durations, files, hosts, the line index.

Every rejection is checked the way a person meets it: ``sensor check-config FILE`` and
``sensor run --config FILE`` in a subprocess, exit code 2, the problem named by file:line:key,
and no traceback.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensor.config import Config, Duration, LineIndex, parse_config, read_secret
from sensor.errors import SecretError, SourceError
from sensor.metrics import Metrics
from sensor.observations import Observation
from sensor.sources import SourceContext
from sensor.supervisor import build_sources
from tests.conftest import REPO


def sensor_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sensor.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def assert_rejected(cfg: Path, line: int | None, key: str, text: str = "") -> None:
    """check-config and run both exit 2 naming file:line: key, without a traceback."""
    for args in (["check-config", str(cfg)], ["run", "--config", str(cfg)]):
        r = sensor_cli(*args)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr, r.stderr
        where = f"{cfg}:{line}: {key}: " if line is not None else f"{cfg}: "
        hits = [ln for ln in r.stderr.splitlines() if ln.startswith(where)]
        assert hits, (args, where, r.stderr)
        assert text in hits[0], (text, r.stderr)


def _secret(path: Path, data: bytes = b"secret\n") -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


# --- item 4: every duration has a minimum --------------------------------------------------

# One valid config with every table that holds a duration; "#@Struct" marks where its keys go.
FULL = """\
[sensor]
site = "lab"
state_dir = "{tmp}/state"
#@SensorSection
[mqtt]
host = "127.0.0.1"
#@MqttSection
[correlation]
#@CorrelationSection
[flows]
listen = ["127.0.0.1:2055"]
allowed_exporters = ["127.0.0.1"]
#@FlowsSection
[[switch]]
name = "sw1"
host = "127.0.0.1"
methods = ["snmp", "cli", "netconf"]
#@SwitchSection
[switch.snmp]
community_file = "{tmp}/secret"
#@SnmpSection
[switch.cli]
platform = "cisco_ios"
username = "u"
password_file = "{tmp}/secret"
insecure_no_host_key_check = true
#@CliSection
[switch.netconf]
username = "u"
password_file = "{tmp}/secret"
insecure_no_host_key_check = true
#@NetconfSection
[register]
file = "{tmp}/register.csv"
#@RegisterSection
[policy]
#@PolicySection
"""
PREFIX = {"SensorSection": "sensor", "MqttSection": "mqtt", "CorrelationSection": "correlation",
          "FlowsSection": "flows", "SwitchSection": "switch[1]", "SnmpSection": "switch[1].snmp",
          "CliSection": "switch[1].cli", "NetconfSection": "switch[1].netconf", "RegisterSection": "register",
          "PolicySection": "policy"}


def _duration_keys() -> list[tuple[str, str]]:
    """(struct, key) for every Duration in the configuration, found from the structs themselves."""
    found: list[tuple[str, str]] = []
    seen: set[type] = set()

    def visit(tp: typing.Any) -> None:
        for arg in typing.get_args(tp):
            visit(arg)
        if not (isinstance(tp, type) and issubclass(tp, msgspec.Struct)) or tp in seen:
            return
        seen.add(tp)
        hints = typing.get_type_hints(tp, include_extras=True)
        for f in msgspec.structs.fields(tp):
            if hints[f.name] is Duration:
                found.append((tp.__name__, f.encode_name))
            visit(hints[f.name])

    visit(Config)
    return found


DURATION_KEYS = _duration_keys()


def _full(tmp_path: Path, struct: str = "", line: str = "") -> tuple[Path, int]:
    tmp_path.chmod(0o700)
    _secret(tmp_path / "secret")
    (tmp_path / "register.csv").write_text("asset_tag,mac\nA1,00:09:fb:12:34:56\n")
    text = FULL.format(tmp=tmp_path).replace(f"#@{struct}", line) if struct else FULL.format(tmp=tmp_path)
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(text)
    lineno = next((n for n, ln in enumerate(text.splitlines(), 1) if line and ln == line), 0)
    return cfg, lineno


def test_every_duration_struct_is_known_to_this_test() -> None:
    assert len(DURATION_KEYS) >= 18
    assert {s for s, _ in DURATION_KEYS} <= set(PREFIX), "add the new table to FULL and PREFIX"


def test_every_duration_has_its_own_bounds() -> None:
    from sensor.config import DURATION_BOUNDS

    assert sorted(DURATION_KEYS) == sorted((cls.__name__, key) for cls, key in DURATION_BOUNDS)


def test_the_full_config_is_valid(tmp_path: Path) -> None:
    cfg, _ = _full(tmp_path)
    r = sensor_cli("check-config", str(cfg))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(("struct", "key"), DURATION_KEYS, ids=[f"{s}.{k}" for s, k in DURATION_KEYS])
def test_zero_duration_is_refused_and_the_minimum_is_accepted(tmp_path: Path, struct: str, key: str) -> None:
    cfg, line = _full(tmp_path, struct, f'{key} = "0s"')
    r = sensor_cli("check-config", str(cfg))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    (hit,) = [ln for ln in r.stderr.splitlines() if ln.startswith(f"{cfg}:{line}: {PREFIX[struct]}.{key}: ")]
    m = re.search(r"at least (\S+?)[:;,]? ", hit + " ")
    assert m, hit
    # The minimum the message names is itself accepted.
    parse_config(cfg.read_text().replace(f'{key} = "0s"', f'{key} = "{m.group(1)}"'), str(cfg))


@pytest.mark.parametrize(("struct", "line", "key"), [
    ("SensorSection", 'health_interval = "0s"', "sensor.health_interval"),
    ("SensorSection", 'health_interval = "999ms"', "sensor.health_interval"),
    ("SwitchSection", 'interval = "0s"', "switch[1].interval"),
    ("SwitchSection", 'deadline = "0s"', "switch[1].deadline"),
    ("SnmpSection", 'timeout = "10ms"', "switch[1].snmp.timeout"),
    ("MqttSection", 'keepalive = "70000s"', "mqtt.keepalive"),  # MQTT's keep-alive is 16 bits
])
def test_runaway_durations_through_check_config_and_run(tmp_path: Path, struct: str, line: str, key: str) -> None:
    cfg, lineno = _full(tmp_path, struct, line)
    assert_rejected(cfg, lineno, key)


def test_a_profile_duration_is_reported_once_where_it_is_written(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    secret = _secret(tmp_path / "secret")
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nsite = "lab"\nstate_dir = "{tmp_path}/state"\n'
                   f'[snmp_profile.p]\ncommunity_file = "{secret}"\ntimeout = "0s"\n'
                   '[[switch]]\nname = "a"\nhost = "h"\n[switch.snmp]\nprofile = "p"\n'
                   '[[switch]]\nname = "b"\nhost = "h"\n[switch.snmp]\nprofile = "p"\n')
    r = sensor_cli("check-config", str(cfg))
    assert r.returncode == 2
    assert [ln for ln in r.stderr.splitlines() if "timeout" in ln] == [
        f"{cfg}:6: snmp_profile.p.timeout: 0s is too short: at least 0.1s: it is the wait for one SNMP answer; "
        "less gives up on a healthy switch"], r.stderr


# --- item 5: files, hosts and names that failed only later ---------------------------------

HEAD = """\
[sensor]
site = "lab"
state_dir = "{tmp}/state"
"""
MQTT = """\
[mqtt]
host = "127.0.0.1"
username = "u"
"""
SWITCH = """\
[[switch]]
name = "sw1"
host = "127.0.0.1"
[switch.snmp]
version = "2c"
"""

# (id, body after HEAD, line, key, text in the message)
INPUTS: list[tuple[str, str, int | None, str, str]] = [
    ("mqtt-password-not-utf8", MQTT + 'password_file = "{tmp}/latin1"\n', 7, "mqtt.password_file", "not UTF-8"),
    ("community-not-utf8", SWITCH + 'community_file = "{tmp}/latin1"\n', 9, "switch[1].snmp.community_file",
     "not UTF-8"),
    ("community-symlink-loop", SWITCH + 'community_file = "{tmp}/loop1"\n', 9, "switch[1].snmp.community_file",
     "symbolic link"),
    ("password-through-a-file", MQTT + 'password_file = "{tmp}/secret/x"\n', 7, "mqtt.password_file",
     "not a directory"),
    ("mqtt-host-empty", '[mqtt]\nhost = ""\n', 5, "mqtt.host", "host"),
    ("mqtt-host-space", '[mqtt]\nhost = "hub example.org"\n', 5, "mqtt.host", "host"),
    ("mqtt-host-url", '[mqtt]\nhost = "mqtt://hub.example.org"\n', 5, "mqtt.host", "host"),
    ("switch-host-empty", SWITCH.replace('"127.0.0.1"', '""') + 'community_file = "{tmp}/secret"\n', 6,
     "switch[1].host", "host"),
    ("switch-host-bad-ipv4", SWITCH.replace("127.0.0.1", "10.0.0.300") + 'community_file = "{tmp}/secret"\n', 6,
     "switch[1].host", "host"),
    ("switch-host-with-port", SWITCH.replace("127.0.0.1", "10.0.0.3:161") + 'community_file = "{tmp}/secret"\n',
     6, "switch[1].host", "port"),
    ("topic-prefix-hash", '[mqtt]\nhost = "h"\ntopic_prefix = "edge/#"\n', 6, "mqtt.topic_prefix", "#"),
    ("topic-prefix-plus", '[mqtt]\nhost = "h"\ntopic_prefix = "edge/+/v1"\n', 6, "mqtt.topic_prefix", "+"),
    ("rules-file-not-utf8", '[classification]\nrules_file = "{tmp}/latin1"\n', 5, "classification.rules_file",
     "not UTF-8"),
    ("ca-not-pem", '[mqtt]\nhost = "h"\ntls = true\nca_file = "{tmp}/secret"\n', 7, "mqtt.ca_file", "PEM"),
]


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    tmp_path.chmod(0o700)
    _secret(tmp_path / "secret")
    _secret(tmp_path / "latin1", "pässwort\n".encode("latin-1"))
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    return tmp_path


@pytest.mark.parametrize(("body", "line", "key", "text"), [i[1:] for i in INPUTS], ids=[i[0] for i in INPUTS])
def test_inputs_that_failed_later_are_refused_at_start(tmp: Path, body: str, line: int, key: str,
                                                       text: str) -> None:
    cfg = tmp / "sensor.toml"
    cfg.write_text(HEAD.format(tmp=tmp) + body.format(tmp=tmp))
    assert_rejected(cfg, line, key, text)


@pytest.mark.parametrize("state_dir", ["secret", "secret/below", "loop1/below"])
def test_state_dir_that_is_not_a_directory(tmp: Path, state_dir: str) -> None:
    cfg = tmp / "sensor.toml"
    cfg.write_text(HEAD.format(tmp=tmp).replace(f"{tmp}/state", f"{tmp}/{state_dir}"))
    assert_rejected(cfg, 3, "sensor.state_dir", "directory" if "loop" not in state_dir else "symbolic link")


@pytest.mark.parametrize("path", ["loop1", "secret/sensor.toml"])
def test_config_path_symlink_loop_or_through_a_file(tmp: Path, path: str) -> None:
    assert_rejected(tmp / path, None, "")


def test_good_hosts_prefix_and_pem_ca_pass(tmp: Path) -> None:
    from tests.support.mosquitto import make_tls_files

    ca = make_tls_files(tmp / "tls")["ca"]
    for host in ("h", "127.0.0.1", "::1", "fe80::1%eth0", "hub.example.org", "hub.example.org.", "sw_1.lab"):
        cfg = tmp / "sensor.toml"
        cfg.write_text(HEAD.format(tmp=tmp) + f'[mqtt]\nhost = "{host}"\ntls = true\nca_file = "{ca}"\n'
                       f'topic_prefix = "edge-sensor/v1"\n'
                       + SWITCH.replace("127.0.0.1", host) + f'community_file = "{tmp}/secret"\n')
        r = sensor_cli("check-config", str(cfg))
        assert r.returncode == 0, (host, r.stderr)


def test_secret_read_failures_are_secret_errors(tmp: Path) -> None:
    for name, text in (("latin1", "not UTF-8"), ("loop1", "symbolic link"), ("secret/x", "not a directory")):
        with pytest.raises(SecretError, match=text):
            read_secret(str(tmp / name))


async def test_community_file_turning_non_utf8_is_reported_in_the_switch_health(tmp: Path) -> None:
    """At run time a secret that went bad fails that switch's poll, with its health, not the process."""
    community = _secret(tmp / "community", b"public\n")
    cfg = parse_config(HEAD.format(tmp=tmp) + SWITCH + f'community_file = "{community}"\n', str(tmp / "s.toml"))
    (src,) = build_sources(cfg)
    community.write_bytes("pübl\xefc\n".encode("latin-1"))
    obs: asyncio.Queue[Observation] = asyncio.Queue()
    ctx = SourceContext(src.name, obs, None, Metrics())  # no correlator: health is published directly
    with pytest.raises(SourceError, match="not UTF-8"):
        await src.cycle(ctx)
    health = obs.get_nowait()
    assert health.topic == "switches/sw1" and not health.data.ok
    assert str(community) in (health.data.last_error or "") and "not UTF-8" in (health.data.last_error or "")
    assert ctx.metrics.counters["poll_errors"] == 1


# --- item 6: the line index is linear ------------------------------------------------------


def test_line_index_bracket_and_50000_spaces_is_fast() -> None:
    """The header pattern once backtracked cubically (19.9 s at 4,000 spaces): run it where a hang can be cut."""
    code = textwrap.dedent("""\
        import time
        from sensor.config import LineIndex
        src = '[sensor]\\nsite = "x"\\nvalues = [\\n[' + ' ' * 50_000 + '\\n1],\\n[[' + ' ' * 50_000 + '\\n2]]]\\n'
        src += '[' + ' ' * 50_000 + 'x' + ' ' * 50_000 + '\\n'
        t = time.perf_counter()
        idx = LineIndex(src)
        print(time.perf_counter() - t, idx.line_of(("sensor", "values")))
    """)
    try:
        r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("LineIndex took over 30 s on one line of 50,000 spaces")
    assert r.returncode == 0, r.stderr
    elapsed, line = r.stdout.split()
    assert line == "3"
    assert float(elapsed) < 1.0, elapsed


_key = st.from_regex(r"\A[a-z][a-z0-9_-]{0,8}\Z")
_spaces = st.integers(0, 2000).map(lambda n: " " * n)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[str, dict[tuple[str, ...], int]]:
    """A TOML document of tables and keys with bracket-and-space lines inside multi-line arrays."""
    lines: list[str] = []
    expected: dict[tuple[str, ...], int] = {}
    tables = draw(st.lists(_key, min_size=1, max_size=4, unique=True))
    for table in tables:
        lines.append(f"{draw(_spaces)}[{draw(_spaces)}{table}{draw(_spaces)}]{draw(_spaces)}")
        expected[(table,)] = len(lines)
        for key in draw(st.lists(_key, min_size=0, max_size=4, unique=True)):
            kind = draw(st.sampled_from(["int", "array", "string"]))
            lines.append(f"{draw(_spaces)}{key}{draw(_spaces)}={draw(_spaces)}" +
                         {"int": "1", "array": "[", "string": '"[ ] ="'}[kind])
            expected[(table, key)] = len(lines)
            if kind == "array":
                lines.append("[" + draw(_spaces))  # a nested array opened alone on its line
                lines.append(f"{draw(_spaces)}1]{draw(_spaces)},")
                lines.append("[[" + draw(_spaces))
                lines.append("2]]" + draw(_spaces) + "]")
    return "\n".join(lines) + "\n", expected


@settings(max_examples=60, deadline=2000)
@given(_documents())
def test_line_index_on_generated_toml(doc: tuple[str, dict[tuple[str, ...], int]]) -> None:
    import tomllib

    source, expected = doc
    tomllib.loads(source)  # the generator writes valid TOML
    idx = LineIndex(source)
    for path, line in expected.items():
        assert idx.line_of(path) == line, (path, source)


def test_mqtt_password_turning_non_utf8_is_a_hub_error(tmp: Path) -> None:
    """At run time the publisher reports it (and retries) instead of the process dying of UnicodeDecodeError."""
    from sensor.errors import HubError
    from sensor.publish.mqtt import Publisher

    password = _secret(tmp / "password", b"hunter2\n")
    cfg = parse_config(HEAD.format(tmp=tmp) + MQTT + f'password_file = "{password}"\n', str(tmp / "s.toml"))
    assert cfg.mqtt is not None
    publisher = Publisher(cfg.mqtt, None, site="lab", sensor_id="t", metrics=Metrics())  # type: ignore[arg-type]
    password.write_bytes("hünter2\n".encode("latin-1"))
    with pytest.raises(HubError, match=r"mqtt\.password_file: .* is not UTF-8"):
        publisher._client()
