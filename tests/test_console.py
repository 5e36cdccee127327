"""The operator's console (issue 17), through the command line as a user runs it.

Every test runs ``sensor ...`` in a subprocess and checks exit codes, stdout and stderr,
at 80 and 160 columns (``COLUMNS``). The switch is snmpsim serving a small Cisco-like
recording on 127.0.0.1; the store is seeded through the real outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensor.metrics import Metrics
from sensor.observations import device_obs
from sensor.publish.outbox import Outbox
from tests.snmp import agents
from tests.snmp.conftest import write_secret

REPO = Path(__file__).resolve().parents[1]
SENSOR = [sys.executable, "-m", "sensor.cli"]
MAC = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")


def sensor(*args: str, columns: int = 80, env: dict[str, str] | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items()
         if k not in ("EDGE_SENSOR_CONFIG", "EDGE_SENSOR_LOG_FORMAT", "JOURNAL_STREAM", "NO_COLOR", "FORCE_COLOR")}
    e.update({"COLUMNS": str(columns), **(env or {})})
    return subprocess.run([*SENSOR, *args], cwd=REPO, capture_output=True, text=True, env=e, timeout=timeout)


def snmprec(rows: dict[str, tuple[int | str, str]]) -> str:
    def key(o: str) -> tuple[int, ...]:
        return tuple(int(p) for p in o.split("."))
    return "".join(f"{o}|{t}|{v}\n" for o, (t, v) in sorted(rows.items(), key=lambda kv: key(kv[0])))


def _mac_index(mac: str) -> str:
    return ".".join(str(int(b, 16)) for b in mac.split(":"))


# An access switch: Gi1/0/1 a pump, Gi1/0/2 a monitor, Gi1/0/24 the uplink (LLDP: a router).
PORTS = {1: ("GigabitEthernet1/0/1", "Gi1/0/1", "infusion pump bay 3, ICU west wing, bed 12"),
         2: ("GigabitEthernet1/0/2", "Gi1/0/2", "patient monitor"),
         24: ("GigabitEthernet1/0/24", "Gi1/0/24", "uplink to the distribution switch in the basement")}
DEVICES = {"58:42:e4:12:10:21": 1, "00:09:fb:12:10:22": 2, "28:99:3a:02:00:01": 24, "28:99:3a:02:00:02": 24}


def switch_rows() -> dict[str, tuple[int | str, str]]:
    rows: dict[str, tuple[int | str, str]] = {
        "1.3.6.1.2.1.1.1.0": (4, "Test switch, access layer"),
        "1.3.6.1.2.1.1.2.0": (6, "1.3.6.1.4.1.8072.3.2.10"),
        "1.3.6.1.2.1.1.3.0": (67, "12345"),
        "1.3.6.1.2.1.1.5.0": (4, "closet-sw"),
        "1.3.6.1.2.1.17.1.1.0": ("4x", "941882010000"),
    }
    for idx, (descr, name, alias) in PORTS.items():
        ifindex = 10100 + idx
        rows[f"1.3.6.1.2.1.2.2.1.1.{ifindex}"] = (2, str(ifindex))
        rows[f"1.3.6.1.2.1.2.2.1.2.{ifindex}"] = (4, descr)
        rows[f"1.3.6.1.2.1.2.2.1.3.{ifindex}"] = (2, "6")
        rows[f"1.3.6.1.2.1.2.2.1.8.{ifindex}"] = (2, "1")
        rows[f"1.3.6.1.2.1.31.1.1.1.1.{ifindex}"] = (4, name)
        rows[f"1.3.6.1.2.1.31.1.1.1.15.{ifindex}"] = (66, "1000")
        rows[f"1.3.6.1.2.1.31.1.1.1.18.{ifindex}"] = (4, alias)
        rows[f"1.3.6.1.2.1.17.1.4.1.2.{idx}"] = (2, str(ifindex))
    for mac, port in DEVICES.items():
        rows[f"1.3.6.1.2.1.17.4.3.1.1.{_mac_index(mac)}"] = ("4x", mac.replace(":", ""))
        rows[f"1.3.6.1.2.1.17.4.3.1.2.{_mac_index(mac)}"] = (2, str(port))
        rows[f"1.3.6.1.2.1.17.4.3.1.3.{_mac_index(mac)}"] = (2, "3")
    # LLDP: the uplink's neighbour is a router the sensor does not poll.
    rows["1.0.8802.1.1.2.1.4.1.1.5.0.24.1"] = ("4x", "28993a020000")
    rows["1.0.8802.1.1.2.1.4.1.1.4.0.24.1"] = (2, "4")
    rows["1.0.8802.1.1.2.1.4.1.1.7.0.24.1"] = (4, "ge1")
    rows["1.0.8802.1.1.2.1.4.1.1.6.0.24.1"] = (2, "5")
    rows["1.0.8802.1.1.2.1.4.1.1.9.0.24.1"] = (4, "dist-router")
    rows["1.0.8802.1.1.2.1.4.1.1.12.0.24.1"] = ("4x", "2800")  # enabled: bridge, router
    rows["1.0.8802.1.1.2.1.3.7.1.3.24"] = (4, "Gi1/0/24")
    return rows


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    data = tmp_path_factory.mktemp("console") / "data"
    data.mkdir()
    (data / "closet.snmprec").write_text(snmprec(switch_rows()))
    with agents.snmpsim(data, "closet") as port:
        yield port


def config(tmp_path: Path, port: int, *, uplinks: str = "", extra_switches: str = "", flows: str = "",
           community: str = "closet") -> Path:
    tmp_path.chmod(0o700)
    secret = write_secret(tmp_path / "community", community)
    p = tmp_path / "sensor.toml"
    p.write_text(f"""
[sensor]
id = "test"
site = "lab"
state_dir = "{tmp_path / 'state'}"
health_interval = "5s"

[[switch]]
name = "sw1"
host = "127.0.0.1"
interval = "10s"
{uplinks}
[switch.snmp]
version = "2c"
port = {port}
timeout = "1s"
retries = 0
community_file = "{secret}"
{extra_switches}
{flows}
""")
    return p


# ------------------------------------------------------------------------ 1. the log
def test_run_once_logs_each_poll_and_a_summary_human_on_request_json_under_journald(agent: int,
                                                                                    tmp_path: Path) -> None:
    cfg = config(tmp_path, agent)
    r = sensor("run", "-c", str(cfg), "--once", "--log-format", "human")
    assert r.returncode == 0, r.stderr
    assert "poll sw1: ok via snmp in" in r.stderr and "3 interfaces, 4 fdb" in r.stderr
    assert "device appeared: 58:42:e4:12:10:21" in r.stderr
    assert re.search(r"once: done in [\d.]+s: 1/1 switches polled; 4 devices present; 4 device events",
                     r.stderr), r.stderr[-600:]
    assert not r.stderr.lstrip().startswith("{")

    # Under systemd (JOURNAL_STREAM set), the same run writes JSON lines with the details as fields.
    r = sensor("run", "-c", str(cfg), "--once", env={"JOURNAL_STREAM": "8:12345"})
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stderr.splitlines()]
    poll = next(x for x in lines if x["event"].startswith("poll sw1"))
    assert poll["rows"] == {"interfaces": 3, "fdb": 4, "arp": 0, "lldp": 1, "cdp": 0}
    assert poll["state"] == "ok" and poll["failed"] == {} and poll["duration_s"] > 0
    assert any(x["event"].startswith("once: done") for x in lines)
    # ...and the environment variable overrides the automatic choice.
    r = sensor("run", "-c", str(cfg), "--once", env={"JOURNAL_STREAM": "8:1", "EDGE_SENSOR_LOG_FORMAT": "human"})
    assert "[info] poll sw1: ok" in r.stderr


def test_once_counts_down_the_flow_window(agent: int, tmp_path: Path) -> None:
    cfg = config(tmp_path, agent, flows=f"""
[flows]
listen = ["127.0.0.1:{agents.free_udp_port()}"]
allowed_exporters = ["127.0.0.0/8"]
window = "6s"
""")
    r = sensor("run", "-c", str(cfg), "--once", "--log-format", "human")
    assert r.returncode == 0, r.stderr
    assert "waiting one flow window (6s)" in r.stderr
    assert re.search(r"flow window: [56]s left; 0 records from 0 exporter\(s\) so far", r.stderr)
    assert "flow window closed after 6s" in r.stderr
    # The stopped sensor's status tells a window that saw nothing from one that never finished.
    st = sensor("status", "-c", str(cfg))
    assert st.returncode == 4 and "STOPPED" in st.stdout, st.stdout
    assert re.search(r"last window \(\d+s ago\): no flow records from any exporter", st.stdout), st.stdout
    assert "no window finished yet" not in st.stdout


def test_status_of_a_stopped_sensor_does_not_say_it_is_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    from sensor.commands.status import _print
    doc = {"state": "stopped", "sensor": "s", "site": "x", "pid": 1, "switches": {}, "outbox": {},
           "hub": {"where": "127.0.0.1:1883", "connected": False, "last_error": None}}
    _print(doc, "stopped", [], time.time())
    out = capsys.readouterr().out
    assert "127.0.0.1:1883: disconnected when the sensor stopped" in out and "connecting" not in out


def test_periodic_health_line_and_status_of_a_running_then_stopped_sensor(agent: int, tmp_path: Path) -> None:
    cfg = config(tmp_path, agent)
    r = sensor("status", "-c", str(cfg))
    assert r.returncode == 1 and "has not run with this state directory" in r.stderr
    proc = subprocess.Popen([*SENSOR, "run", "-c", str(cfg), "--log-format", "json"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        status: subprocess.CompletedProcess[str] | None = None
        while time.monotonic() < deadline:
            status = sensor("status", "-c", str(cfg))
            if status.returncode == 0 and "sw1" in status.stdout and " ok " in status.stdout:
                break
            time.sleep(0.5)
        assert status is not None and status.returncode == 0, (status.stdout if status else "", )
        assert "running (pid" in status.stdout and "last success" in status.stdout
        assert "3 interfaces, 4 fdb" in status.stdout
        doc = json.loads(sensor("status", "-c", str(cfg), "--json").stdout)
        assert doc["judged_state"] == "running" and doc["switches"]["sw1"]["ok"] is True
        time.sleep(6)  # a second health line (health_interval = 5s)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    health = [json.loads(x) for x in err.splitlines() if '"health: ' in x]
    assert len(health) >= 2 and "switches 1/1 ok" in health[-1]["event"]
    r = sensor("status", "-c", str(cfg))
    assert r.returncode == 4 and "STOPPED" in r.stdout and "sw1" in r.stdout


# ------------------------------------------------------------------------ 2. degradation
def test_missing_uplink_is_degraded_everywhere(agent: int, tmp_path: Path) -> None:
    cfg = config(tmp_path, agent, uplinks='uplinks = ["Gi1/0/48", "Gi1/0/24"]')
    r = sensor("poll", "-c", str(cfg), "sw1", "--json")
    assert r.returncode == 3, r.stderr
    doc = json.loads(r.stdout)
    assert doc["degraded"] == [next(x for x in doc["degraded"] if "Gi1/0/48" in x)]
    assert "configured uplink Gi1/0/48 is not a port of this switch" in r.stderr
    assert "Gi1/0/24 " not in doc["degraded"][0]  # Gi1/0/24 is a port: not reported
    r = sensor("run", "-c", str(cfg), "--once", "--log-format", "human")
    assert r.returncode == 3
    assert "[warning] poll sw1: degraded" in r.stderr and "Gi1/0/48" in r.stderr
    assert "sensor run: worked, but degraded: sw1: configured uplink Gi1/0/48" in r.stderr


def test_a_failed_method_is_in_json_errors_on_stderr_and_exits_3(agent: int, tmp_path: Path) -> None:
    """SNMP with a wrong community (no answer) and the CLI (a Cisco-like SSH server) answering."""
    from tests.cli.fake_ios import IOS, FakeIOS
    from tests.cli.fake_ios import corpus_outputs as outputs

    if not IOS.is_dir():
        pytest.skip(f"CLI corpus not found at {IOS} (../shared absent)")
    with FakeIOS(outputs()) as server:
        pw = write_secret(tmp_path / "pw", "pw")
        kh = server.known_hosts(tmp_path / "known_hosts")
        cfg = config(tmp_path, agent, community="wrong")
        text = cfg.read_text().replace('interval = "10s"', 'interval = "10s"\nmethods = ["snmp", "cli"]')
        cfg.write_text(text + f"""
[switch.cli]
platform = "cisco_ios"
port = {server.port}
username = "sensor"
password_file = "{pw}"
host_key_file = "{kh}"
""")  # [switch.cli] belongs to sw1: it is the only switch in the file
        r = sensor("poll", "-c", str(cfg), "sw1", "--json")
        assert r.returncode == 3, r.stderr
        doc = json.loads(r.stdout)
        assert any(e.startswith("snmp: no answer from 127.0.0.1:") for e in doc["errors"]), doc["errors"]
        assert "sensor poll: sw1: snmp failed: no answer" in r.stderr
        assert set(doc["methods"].values()) == {"cli"}
        # Each method on its own: SNMP fails (exit 1), the CLI works (exit 0).
        r = sensor("poll", "-c", str(cfg), "sw1", "--method", "snmp")
        assert r.returncode == 1 and r.stderr.startswith("sensor poll: sw1: no answer from 127.0.0.1:")
        r = sensor("poll", "-c", str(cfg), "sw1", "--method", "cli")
        assert r.returncode == 0, r.stderr
        assert "polled in" in r.stdout and "via cli" in r.stdout


def test_poll_method_not_configured_is_refused(agent: int, tmp_path: Path) -> None:
    cfg = config(tmp_path, agent)
    r = sensor("poll", "-c", str(cfg), "sw1", "--method", "netconf")
    assert r.returncode == 2 and "has no [switch.netconf] table" in r.stderr and "(configured: snmp)" in r.stderr


def test_wrong_cli_platform_is_recognised() -> None:
    from collectors.cli.guess import platform_mismatch

    assert platform_mismatch("cisco_ios", "\x1b[?2004hroot@vm:~# ") == (
        "this looks like a Linux shell, not Cisco IOS (the prompt is 'root@vm:~#'): "
        "set [switch.cli] platform to linux")
    assert "not Cisco IOS" in str(platform_mismatch("cisco_ios", "$ ", ["-bash: show: command not found"]))
    assert "a Cisco-style CLI" in str(platform_mismatch("linux", "sw1#", ["% Invalid input detected at '^' marker."]))
    assert "Junos" in str(platform_mismatch("cisco_ios", "admin@ex4300>"))
    assert platform_mismatch("cisco_ios", "sw1#", ["Vlan    Mac Address       Type        Ports"]) is None
    assert platform_mismatch("linux", "root@sw1:~#") is None
    assert platform_mismatch("cisco_nxos", "sw1#", ["% Invalid command at '^' marker."]) is None


# ------------------------------------------------------------------------ 4. poll as onboarding tool
@pytest.mark.parametrize("columns", [80, 160])
def test_poll_summary_first_named_types_nothing_cut_or_wrapped(agent: int, tmp_path: Path, columns: int) -> None:
    cfg = config(tmp_path, agent)
    r = sensor("poll", "-c", str(cfg), "sw1", columns=columns)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.index("Summary") < out.index("Interfaces (3")
    assert "uplink Gi1/0/24: LLDP neighbour dist-router (bridge, router) is a switch or router not polled" in \
        out.replace("\n    ", " ")
    assert "access ports with end devices (2): Gi1/0/1 (1 MAC), Gi1/0/2 (1 MAC)" in out
    assert "tables read whole:" in out
    assert re.search(r"Gi1/0/24\s+uplink\s+up\s+ethernet\s+1G", out)
    assert all(len(line) <= columns for line in out.splitlines()), max(out.splitlines(), key=len)
    for mac in DEVICES:
        assert mac in out  # whole, never cut
    if columns == 160:
        assert "infusion pump bay 3, ICU west wing, bed 12" in out
    else:
        assert "[not shown:" in out


def test_poll_all_one_line_per_switch(agent: int, tmp_path: Path) -> None:
    down = write_secret(tmp_path / "c2", "closet")
    cfg = config(tmp_path, agent, extra_switches=f"""
[[switch]]
name = "sw-gone"
host = "127.0.0.1"
[switch.snmp]
version = "2c"
port = {agents.free_udp_port()}
timeout = "1s"
retries = 0
community_file = "{down}"
""")
    r = sensor("poll", "-c", str(cfg), "--all")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and lines[0].split()[:2] == ["switch", "state"]
    assert re.match(r"sw1\s+ok\s+snmp", lines[1]) and re.match(r"sw-gone\s+FAILED", lines[2])
    assert "no answer" in lines[2]
    docs = json.loads(sensor("poll", "-c", str(cfg), "--all", "--json").stdout)
    assert [(d["switch"], d["state"]) for d in docs] == [("sw1", "ok"), ("sw-gone", "failed")]


# ------------------------------------------------------------------------ 3. inventory
def record(mac: str, cls: str, medical: bool, score: int, level: str, factor: str, switch: str = "sw1",
           port: str = "Gi1/0/1", vendor: str = "Some Very Long Vendor Name Incorporated International") -> dict[str, Any]:
    return {"mac": mac, "present": True, "vendor": vendor, "first_seen": "2026-11-23T15:00:00Z",
            "last_seen": "2026-11-23T16:00:00Z",
            "attachment": {"switch": switch, "port": port, "ifindex": 1, "vlan": 110, "confidence": 0.95,
                           "evidence": [f"the only MAC learned on access port {switch} {port}"]},
            "ips": [{"ip": "10.20.110.21", "version": 4, "router": "core"},
                    {"ip": "fd00:18:10:0:5a42:e4ff:fe12:1021", "version": 6, "router": "core"}],
            "classification": {"device_class": cls, "label": cls.replace("_", " ").title(), "medical": medical,
                               "confidence": 0.8, "reasons": [f"vendor: {cls} maker"]},
            "risk": {"score": score, "level": level,
                     "factors": [{"name": "exposure", "points": 20, "detail": "on a shared network"},
                                 {"name": factor, "points": score - 20, "detail": f"shares VLAN 110 with 3 workstation(s) ({factor})"}]}}


STORE = [record("f8:bc:12:12:10:23", "workstation", False, 24, "low", "exposure"),
         record("58:42:e4:12:10:21", "infusion_pump", True, 82, "critical", "flat_network"),
         record("00:09:fb:12:10:22", "patient_monitor", True, 55, "high", "cleartext", switch="sw2")]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    cfg = config(tmp_path, 161)

    async def seed() -> None:
        ob = Outbox(tmp_path / "state" / "outbox.sqlite3", site="lab", sensor_id="test", max_messages=10000,
                    metrics=Metrics())
        await ob.open()
        await ob.append([device_obs(r["mac"], r, time.time()) for r in STORE])
        await ob.close()

    asyncio.run(seed())
    return cfg


@pytest.mark.parametrize("columns", [80, 160])
def test_inventory_sorted_by_risk_macs_whole_level_and_reason(store: Path, columns: int) -> None:
    r = sensor("inventory", "-c", str(store), columns=columns)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(len(line) <= columns for line in lines), max(lines, key=len)
    rows = [x for x in lines[2:] if MAC.search(x)]
    assert [MAC.search(x).group(0) for x in rows] == [  # type: ignore[union-attr]
        "58:42:e4:12:10:21", "00:09:fb:12:10:22", "f8:bc:12:12:10:23"]
    assert "critical 82" in rows[0] and "high 55" in rows[1] and "low 24" in rows[2]
    assert "flat network" in rows[0]  # the main reason: the factor that weighs most
    assert "\033[" not in r.stdout  # no colour without a terminal
    if columns == 160:
        assert "yes" in rows[0] and "10.20.110.21 +1" in rows[0]
    r = sensor("inventory", "-c", str(store), "--sort", "mac")
    assert next(MAC.search(x).group(0) for x in r.stdout.splitlines()[2:]) == "00:09:fb:12:10:22"  # type: ignore[union-attr]
    r = sensor("inventory", "-c", str(store), "--wide")
    assert "fd00:18:10:0:5a42:e4ff:fe12:1021" in r.stdout and "Some Very Long Vendor Name Incorporated" in r.stdout


def test_inventory_refuses_unknown_filters_and_says_when_nothing_matches(store: Path) -> None:
    r = sensor("inventory", "-c", str(store), "--class", "pumps")
    assert r.returncode == 2 and 'unknown class "pumps"' in r.stderr and "infusion_pump" in r.stderr
    r = sensor("inventory", "-c", str(store), "--switch", "sw3")
    assert r.returncode == 2 and 'unknown switch "sw3" (did you mean sw' in r.stderr and "known: sw1, sw2" in r.stderr
    r = sensor("inventory", "-c", str(store), "--class", "imaging")
    assert r.returncode == 0 and r.stdout == "" and "no device matches (3 in the store)" in r.stderr
    r = sensor("inventory", "-c", str(store), "--switch", "sw2", "--medical")
    assert r.returncode == 0 and "00:09:fb:12:10:22" in r.stdout and "58:42" not in r.stdout


def test_inventory_explain_and_csv_columns(store: Path) -> None:
    r = sensor("inventory", "-c", str(store), "--explain", "58-42-E4-12-10-21")
    assert r.returncode == 0, r.stderr
    assert "class: infusion_pump" in r.stdout and "medical" in r.stdout
    assert "risk: critical 82/100" in r.stdout and "+62  flat_network: shares VLAN 110 with 3 workstation(s) (flat_network)" in r.stdout
    assert "where: sw1 Gi1/0/1, VLAN 110, confidence 0.95" in r.stdout
    r = sensor("inventory", "-c", str(store), "--explain", "58:42:e4:12:10:20")
    assert r.returncode == 1 and "did you mean 58:42:e4:12:10:21" in r.stderr
    r = sensor("inventory", "-c", str(store), "--csv")
    head, first = r.stdout.splitlines()[:2]
    assert head.endswith(",risk_level,risk_reason,medical,confidence")
    assert first.endswith(",critical,flat network: shares VLAN 110 with 3 workstation(s) (flat_network),yes,0.95")


def test_inventory_piped_into_head_has_no_traceback(tmp_path: Path) -> None:
    cfg = config(tmp_path, 161)

    async def seed() -> None:
        ob = Outbox(tmp_path / "state" / "outbox.sqlite3", site="lab", sensor_id="test", max_messages=100000,
                    metrics=Metrics())
        await ob.open()
        await ob.append([device_obs(f"00:09:fb:00:{i // 256:02x}:{i % 256:02x}",
                                    record(f"00:09:fb:00:{i // 256:02x}:{i % 256:02x}", "patient_monitor",
                                           True, 50, "high", "exposure"), time.time()) for i in range(5000)])
        await ob.close()

    asyncio.run(seed())
    for fmt in ("--csv", "--json", "--wide"):
        p = subprocess.run(f"{sys.executable} -m sensor.cli inventory -c {cfg} {fmt} | head -c 100 >/dev/null; "
                           "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", cwd=REPO,
                           capture_output=True, text=True)
        assert "Traceback" not in p.stderr and "BrokenPipeError" not in p.stderr, p.stderr
        assert p.returncode in (0, 141)


# ------------------------------------------------------------------------ 5. consistency
def test_config_from_option_environment_or_default(store: Path, tmp_path: Path) -> None:
    r = sensor("inventory", env={"EDGE_SENSOR_CONFIG": str(store)})
    assert r.returncode == 0 and "58:42:e4:12:10:21" in r.stdout
    r = sensor("check-config", env={"EDGE_SENSOR_CONFIG": str(store)})
    assert r.returncode == 0 and r.stdout.rstrip().endswith(f"{store}: OK")
    assert sensor("check-config", "-c", str(store)).returncode == 0
    assert sensor("check-config", str(store)).returncode == 0
    for cmd in (["inventory"], ["status"], ["poll", "sw1"], ["run", "--once"], ["check-config"]):
        r = sensor(*cmd)
        assert r.returncode == 2, (cmd, r.stderr)
        assert "/etc/edge-sensor/sensor.toml" in r.stderr or not Path("/etc/edge-sensor/sensor.toml").exists()


def test_flows_decode_reads_a_pcap_written_by_tcpdump_and_names_protocols(tmp_path: Path) -> None:
    import shutil
    import socket

    from tests.flows.build import FLOW_FIELDS, data_set, flow_record, ipfix, ipfix_template_record, ipfix_template_set

    if os.geteuid() != 0 or shutil.which("tcpdump") is None:
        pytest.skip("capturing with tcpdump needs root and tcpdump")
    port = agents.free_udp_port()
    pcap = tmp_path / "export.pcap"
    tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-w", str(pcap), "-Z", "root", f"udp port {port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # tcpdump prints "listening" only on a terminal: give it time to open
        tset = ipfix_template_set(ipfix_template_record(300, FLOW_FIELDS))
        data = data_set(300, flow_record("10.0.0.1", "10.0.0.2", 40000, 2575, 6, 1000, 10),
                        flow_record("10.0.0.3", "10.0.0.2", 5000, 24105, 17, 300, 1))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(ipfix(1, tset), ("127.0.0.1", port))
            s.sendto(ipfix(1, data), ("127.0.0.1", port))
        time.sleep(1.0)
    finally:
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
    r = sensor("flows", "decode", str(pcap))
    assert r.returncode == 0, r.stderr
    assert "capture with 2 UDP datagram(s)" in r.stderr
    assert "flow TCP 10.0.0.1:40000 -> 10.0.0.2:2575 bytes 1000 packets 10" in r.stdout
    assert "flow UDP 10.0.0.3:5000 -> 10.0.0.2:24105" in r.stdout
    lines = [json.loads(x) for x in sensor("flows", "decode", "--json", str(pcap)).stdout.splitlines()]
    assert [x["destinationTransportPort"] for x in lines] == [2575, 24105]


def test_flows_decode_reads_pcapng(tmp_path: Path) -> None:
    """Nothing here writes pcapng (tcpdump writes pcap only): the blocks are built as the format says."""
    import struct

    from tests.flows.build import FLOW_FIELDS, data_set, flow_record, ipfix, ipfix_template_record, ipfix_template_set

    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    def frame(payload: bytes) -> bytes:
        udp = struct.pack("!HHHH", 40000, 4739, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         bytes([192, 0, 2, 7]), bytes([192, 0, 2, 100])) + udp
        return b"\x00" * 12 + b"\x08\x00" + ip

    msg = ipfix(1, ipfix_template_set(ipfix_template_record(300, FLOW_FIELDS)),
                data_set(300, flow_record("10.0.0.1", "10.0.0.2", 1, 443, 6, 10, 1)))
    f = frame(msg)
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", 1, 0, 65535))
    epb = block(6, struct.pack("<IIIII", 0, 0, 0, len(f), len(f)) + f)
    (tmp_path / "x.pcapng").write_bytes(shb + idb + epb)
    r = sensor("flows", "decode", str(tmp_path / "x.pcapng"))
    assert r.returncode == 0, r.stderr
    assert "192.0.2.7:40000->4739" in r.stdout and "flow TCP 10.0.0.1:1 -> 10.0.0.2:443" in r.stdout
