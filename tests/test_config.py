"""The configuration file: every mistake named by file, line and key path, exit code 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensor.cli import main
from sensor.config import LineIndex, load_config, parse_duration
from tests.conftest import REPO

HEAD = """\
[sensor]
id = "closet-2b"
site = "st-example-main"
state_dir = "{state}"
"""


def _secret(tmp: Path, name: str, mode: int = 0o600, text: str = "secret\n") -> Path:
    p = tmp / name
    p.write_text(text)
    p.chmod(mode)
    return p


SWITCH_V2 = """
[[switch]]
name = "idf2-access-1"
host = "127.0.0.1"
[switch.snmp]
version = "2c"
community_file = "{community}"
"""

# (id, body appended after HEAD, expected line, expected text)
BAD: list[tuple[str, str, int | None, str]] = [
    ("toml-syntax", 'x = "unterminated\n', 5, "not valid TOML"),
    ("unknown-section", "[flowz]\nlisten = []\n", 5, "flowz: unknown key"),
    ("typo-did-you-mean", 'sit = "x"\n', 5, 'sensor.sit: unknown key; did you mean "site"?'),
    ("duration-type", "health_interval = 5\n", 5, 'sensor.health_interval: expected a duration like "90s"'),
    ("duration-unit", 'health_interval = "5 minutes"\n', 5, 'got "5 minutes"'),
    ("log-level", 'log_level = "verbose"\n', 5, 'sensor.log_level: expected one of "debug", "info"'),
    ("bad-id", 'site2 = 1\n', 5, "sensor.site2: unknown key"),
    ("mqtt-port-range", '[mqtt]\nhost = "h"\nport = 70000\n', 7, "mqtt.port: expected an integer <= 65535"),
    ("mqtt-port-string", '[mqtt]\nhost = "h"\nport = "1883"\n', 7, 'mqtt.port: expected an integer or nothing, got "1883"'),
    ("mqtt-tls-string", '[mqtt]\nhost = "h"\ntls = "yes"\n', 7, 'mqtt.tls: expected true or false, got "yes"'),
    ("mqtt-missing-host", "[mqtt]\nport = 1883\n", 5, 'mqtt: missing required key "host"'),
    ("inline-password", '[mqtt]\nhost = "h"\nusername = "u"\npassword = "hunter2"\n', 8,
     "secrets are never written inline"),
    ("password-world-readable", '[mqtt]\nhost = "h"\nusername = "u"\npassword_file = "{loose}"\n', 8,
     "is readable by group or others (mode 0644): run `chmod 600"),
    ("password-missing-file", '[mqtt]\nhost = "h"\nusername = "u"\npassword_file = "{tmp}/nope"\n', 8,
     "does not exist"),
    ("password-without-user", '[mqtt]\nhost = "h"\npassword_file = "{community}"\n', 7,
     "a password needs a username"),
    ("cert-without-key", '[mqtt]\nhost = "h"\ntls = true\ncert_file = "{community}"\n', 5,
     "cert_file and key_file go together"),
    ("ca-without-tls", '[mqtt]\nhost = "h"\nca_file = "{community}"\n', 5, "tls is false: set tls = true"),
    ("snmp-version-v3", SWITCH_V2.replace('"2c"', '"v3"'), 10,
     'switch[1].snmp.version: expected one of "1", "2c", "3", got "v3"'),
    ("switch-missing-host", '[[switch]]\nname = "a"\n', 5, 'switch[1]: missing required key "host"'),
    ("switch-bad-name", '[[switch]]\nname = "idf 2"\nhost = "h"\nmethods = []\n', 6, "switch[1].name: expected a string matching"),
    ("duplicate-switch", SWITCH_V2 + SWITCH_V2, 14, 'switch[2].name: "idf2-access-1" is already the name of switch[1]'),
    ("snmp-without-table", '[[switch]]\nname = "a"\nhost = "h"\n', 5, 'methods lists "snmp" but there is no [switch.snmp]'),
    ("v2c-without-community", '[[switch]]\nname = "a"\nhost = "h"\n[switch.snmp]\nversion = "2c"\n', 8,
     "SNMP v2c needs community_file"),
    ("v3-without-user", '[[switch]]\nname = "a"\nhost = "h"\n[switch.snmp]\nversion = "3"\n', 8, "SNMP v3 needs user"),
    ("v3-auth-protocol", '[[switch]]\nname = "a"\nhost = "h"\n[switch.snmp]\nversion = "3"\nuser = "u"\n'
     'auth_protocol = "sha1"\n', 11, 'switch[1].snmp.auth_protocol: expected one of "md5", "sha", "sha224"'),
    ("v3-key-without-protocol", '[[switch]]\nname = "a"\nhost = "h"\n[switch.snmp]\nversion = "3"\nuser = "u"\n'
     'auth_key_file = "{community}"\n', 8, "auth_key_file is set but auth_protocol is missing"),
    ("unknown-profile", '[[switch]]\nname = "a"\nhost = "h"\n[switch.snmp]\nprofile = "closet"\n', 9,
     "no [snmp_profile.closet] table"),
    ("community-loose", SWITCH_V2.replace("{community}", "{loose}"), 11, "switch[1].snmp.community_file"),
    ("interval-negative", '[[switch]]\nname = "a"\nhost = "h"\ninterval = -5\n', 8, "switch[1].interval: expected a duration"),
    ("outbox-too-small", "[outbox]\nmax_messages = 10\n", 6, "outbox.max_messages: expected an integer >= 100"),
    ("methods-unknown", '[[switch]]\nname = "a"\nhost = "h"\nmethods = ["telnet"]\n', 8,
     'switch[1].methods[1]: expected one of "snmp", "cli", "netconf", got "telnet"'),
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {
        "tmp": str(tmp_path),
        "state": str(tmp_path / "state"),
        "community": str(_secret(tmp_path, "community")),
        "loose": str(_secret(tmp_path, "loose", 0o644)),
    }


@pytest.mark.parametrize(("body", "line", "text"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config(tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str],
                    body: str, line: int | None, text: str) -> None:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(HEAD.format(**files) + body.format(**files))
    assert main(["check-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert text in err, err
    if line is not None:
        hits = [ln for ln in err.splitlines() if text in ln]
        assert hits[0].startswith(f"{cfg}:{line}: "), err
    assert "Traceback" not in err


def test_every_problem_reported_at_once(tmp_path: Path, files: dict[str, str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(HEAD.format(**files) + textwrap.dedent("""\
        health_interval = "soon"
        [mqtt]
        host = "h"
        port = 0
        [[switch]]
        name = "a"
        host = "h"
        [switch.snmp]
        version = "4"
    """))
    assert main(["check-config", str(cfg)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [ln.split(": ")[0] for ln in err[:3]] == [f"{cfg}:5", f"{cfg}:8", f"{cfg}:13"]
    assert err[-1] == f"3 problems found in {cfg}"


def test_missing_file_and_run_exit_2_without_traceback(tmp_path: Path) -> None:
    for args in (["check-config", str(tmp_path / "nope.toml")], ["run", "--config", str(tmp_path / "nope.toml")]):
        r = subprocess.run([sys.executable, "-m", "sensor.cli", *args], cwd=REPO, capture_output=True, text=True)
        assert r.returncode == 2
        assert "no such file" in r.stderr and "Traceback" not in r.stderr


def test_good_config_summary(tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    auth = _secret(tmp_path, "auth")
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(HEAD.format(**files) + textwrap.dedent(f"""\
        [mqtt]
        host = "hub.example.org"
        tls = true
        username = "closet-2b"
        password_file = "{files['community']}"

        [snmp_profile.closet]
        version = "3"
        user = "sensor"
        auth_protocol = "sha256"
        auth_key_file = "{auth}"
        priv_protocol = "aes128"
        priv_key_file = "{auth}"

        [[switch]]
        name = "idf2-access-1"
        host = "10.20.0.11"
        interval = "15m"
        uplinks = ["Gi1/0/48"]
        [switch.snmp]
        profile = "closet"
        port = 1161
    """) + SWITCH_V2.format(**files).replace("idf2-access-1", "idf2-access-2"))
    assert main(["check-config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "hub: mqtts://hub.example.org:8883 as closet-2b" in out
    assert "idf2-access-1: 10.20.0.11 via snmp (SNMP v3, profile closet), every 15m" in out
    c = load_config(cfg)
    sw = c.switch[0]
    assert sw.snmp is not None and sw.snmp.user == "sensor" and sw.snmp.port == 1161
    assert sw.interval == 900.0 and c.switch[1].snmp is not None and c.switch[1].snmp.version == "2c"
    # Secrets are only paths in the config object, never their contents.
    assert "secret" not in repr(c)


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    for bad in ("", "5", "m", "1x", "-5s", "5 m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["ms", "s", "m", "h", "d"])), min_size=1, max_size=4))
def test_duration_roundtrip(parts: list[tuple[int, str]]) -> None:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    text = "".join(f"{n}{u}" for n, u in parts)
    assert parse_duration(text) == pytest.approx(sum(n * units[u] for n, u in parts))


def test_line_index_arrays_of_tables() -> None:
    src = textwrap.dedent("""\
        [sensor]
        site = "x"
        [[switch]]
        name = "a"
        [switch.snmp]
        version = "2c"
        [[switch]]
        name = "b"
        # a comment
        [switch.snmp]
        "version" = "3"
        notes = \"\"\"
        host = "not a key"
        \"\"\"
        host = "h"
    """)
    idx = LineIndex(src)
    assert idx.line_of(("switch", 0, "snmp", "version")) == 6
    assert idx.line_of(("switch", 1, "snmp", "version")) == 11
    assert idx.line_of(("switch", 1, "name")) == 8
    assert idx.line_of(("switch", 1, "snmp", "host")) == 15
    assert idx.line_of(("switch", 1, "snmp", "missing")) == 10


def test_every_command_reports_a_bad_config_the_same_way(tmp_path: Path, files: dict[str, str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Each command that loads the configuration prints its problems, one a line, and exits 2."""
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(HEAD.format(**files) + 'health_interval = "soon"\n[mqtt]\nhost = "h"\nport = 0\n')
    assert main(["check-config", str(cfg)]) == 2
    *problems, count = capsys.readouterr().err.splitlines()
    assert len(problems) == 2 and all(p.startswith(f"{cfg}:") for p in problems)
    assert count == f"2 problems found in {cfg}"
    for cmd in (["inventory"], ["status"], ["run", "--once"], ["report", "--out", str(tmp_path / "r")],
                ["policy", "matrix"]):
        assert main([*cmd, "--config", str(cfg)]) == 2, cmd
        out = capsys.readouterr()
        assert (out.out, out.err.splitlines()) == ("", problems), cmd
