"""The promise: the sensor never sends a packet to an end device.

A full sensor cycle runs from es-mgmt with every source enabled (SNMP v3 and CLI
on sw1, NETCONF on dist, served from dist's namespace on its management address,
the flow listener fed by softflowd, a hub) while tcpdump
captures on every end device's own interface. The captures must hold none of the
sensor's packets, and must hold the devices' own clinical traffic (so an empty or
broken capture cannot pass). A capture on the sensor's side shows where its
packets did go: only to the switches' management addresses.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import labkit
from tests.netconf.server import NetconfServer, linux_state
from tests.support.mosquitto import free_port
from tests.support.netns import entered
from tests.support.schemas import validate_message

REPO = Path(__file__).resolve().parents[2]
# "length 98: 198.18.0.100.41234 > 198.18.0.11.161:" (tcpdump -n -e), ports optional (ICMP)
DST_PORT = re.compile(r": (\d+\.\d+\.\d+\.\d+)\.\d+ > \d+\.\d+\.\d+\.\d+\.(\d+):")
IPV4_FLOW = re.compile(r": (\d+\.\d+\.\d+\.\d+)(?:\.\d+)? > (\d+\.\d+\.\d+\.\d+)(?:\.\d+)?:")


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    with labkit.running_lab() as lab:
        yield lab


class Capture:
    def __init__(self, ns: str, iface: str, path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-U", "-w", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()  # "listening on eth0 ..." once the capture runs
        assert "listening on" in line, line

    def stop(self) -> list[str]:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        out = subprocess.run(["tcpdump", "-r", str(self.path), "-n", "-e", "-tt"], capture_output=True,
                             text=True, check=True)
        return out.stdout.splitlines()


@pytest.fixture
def dist_netconf(lab: labkit.Lab, tmp_path: Path) -> Iterator[NetconfServer]:
    """dist over NETCONF: the PyPI netconf package's server (no lab router of ours speaks NETCONF),
    listening on dist's management address inside dist's namespace, serving dist's kernel state."""
    dist = lab.switch("dist")
    with entered(dist["namespace"]):
        srv = NetconfServer("openconfig", lambda: linux_state(dist["namespace"], str(lab.state / "dist" / "lldpd.sock"),
                                                              "dist"), tmp_path / "netconf", host=dist["mgmt_ip"])
    with srv:
        yield srv


def test_a_full_cycle_sends_nothing_to_any_end_device(lab: labkit.Lab, dist_netconf: NetconfServer,
                                                      tmp_path: Path) -> None:
    sensor = lab.data["sensor"]
    sensor_ip = sensor["ipv4"]
    sensor_mac = lab.run(sensor["namespace"], ["cat", f"/sys/class/net/{sensor['interface']}/address"]).stdout.strip()
    switches = {s["mgmt_ip"] for s in lab.switches}
    hub_port = free_port()
    (tmp_path / "mosquitto.conf").write_text(f"listener {hub_port} 127.0.0.1\nallow_anonymous true\nuser root\n")
    cfg = tmp_path / "sensor.toml"
    base = Path(sensor["config"]).read_text().replace('state_dir = "/run/edge-sensor-lab/state"',
                                                      f'state_dir = "{tmp_path / "state"}"')
    # sw1 over SSH first (SNMP fills in what the CLI cannot), so both protocols really run.
    assert 'methods = ["snmp", "cli"]' in base
    base = base.replace('methods = ["snmp", "cli"]', 'methods = ["cli", "snmp"]')
    dist_ip = dist_netconf.host
    assert f'host = "{dist_ip}"\nmethods = ["snmp"]' in base
    base = base.replace(f'host = "{dist_ip}"\nmethods = ["snmp"]', f'host = "{dist_ip}"\nmethods = ["netconf"]')
    base += f"""[switch.netconf]
username = "sensor"
port = {dist_netconf.port}
key_file = "{dist_netconf.key_file}"
host_key_file = "{dist_netconf.known_hosts(tmp_path / 'netconf-known-hosts')}"
timeout = "20s"
"""
    cfg.write_text(base + f"""
[mqtt]
host = "127.0.0.1"
port = {hub_port}
drain_timeout = "30s"

[flows]
listen = ["{sensor_ip}:2055", "{sensor_ip}:2056", "{sensor_ip}:4739"]
allowed_exporters = ["198.18.0.11/32"]
window = "12s"
internal = ["198.18.0.0/15", "fd00::/8"]
""")
    captures = {d["name"]: Capture(d["namespace"], "eth0", tmp_path / f"{d['name']}.pcap") for d in lab.devices}
    mgmt = Capture(sensor["namespace"], sensor["interface"], tmp_path / "mgmt.pcap")
    hub = subprocess.Popen(["ip", "netns", "exec", sensor["namespace"], "mosquitto", "-c",
                            str(tmp_path / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    received = tmp_path / "received.jsonl"
    time.sleep(0.5)
    sub = subprocess.Popen(["ip", "netns", "exec", sensor["namespace"], "mosquitto_sub", "-p", str(hub_port), "-q", "1",
                            "-t", "edge-sensor/#", "-F", '{"topic": "%t", "payload": "%x"}'],
                           stdout=received.open("w"), stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        run = subprocess.Popen(["ip", "netns", "exec", sensor["namespace"], sys.executable, "-m", "sensor.cli", "run",
                                "--config", str(cfg), "--once"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        traffic = subprocess.run([str(labkit.LAB_DIR / "clinical-traffic")], capture_output=True, text=True,
                                 timeout=60)
        assert traffic.returncode == 0, traffic.stderr
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        # Every source really ran: both switches polled, flows received.
        assert '"event": "flow listener open"' in err
    finally:
        time.sleep(0.5)
        sub.terminate()
        sub.wait(10)
        hub.terminate()
        hub.wait(10)
        lines = {name: c.stop() for name, c in captures.items()}
        mgmt_lines = mgmt.stop()

    # The captures work: each shows its device's own traffic (the pump's HL7, everyone's pings).
    assert any(".2575:" in ln for ln in lines["pump"]), "the pump's capture missed its own HL7 traffic"
    for name, pkts in lines.items():
        assert pkts, f"empty capture on {name}"
        from_sensor = [ln for ln in pkts if sensor_mac in ln.split(">")[0] or f" {sensor_ip}." in ln
                       or f" {sensor_ip} " in ln]
        assert from_sensor == [], f"{name} received packets involving the sensor: {from_sensor[:3]}"

    # And on the sensor's side: IP packets it sent went only to the switches' management addresses.
    flows = [m.groups() for m in map(IPV4_FLOW.search, mgmt_lines) if m]
    destinations = {dst for src, dst in flows if src == sensor_ip}
    assert destinations, f"no packet from the sensor on its own interface? {mgmt_lines[:3]}"
    assert destinations <= switches, destinations - switches
    ports = {m.group(2) for m in map(DST_PORT.search, mgmt_lines) if m and m.group(1) == sensor_ip}
    # SNMP, SSH and NETCONF all went out, to the switches only
    assert {"161", "22", str(dist_netconf.port)} <= ports, ports
    # ...and the switches answered, so the capture saw both directions.
    assert {src for src, dst in flows if dst == sensor_ip} >= switches

    # Every message the hub received matches the JSON Schema shipped for its kind.
    kinds = []
    used: dict[str, set[str]] = {}  # switch -> the methods its tables came from
    for line in received.read_text().splitlines():
        msg = json.loads(line)
        env = validate_message(msg["topic"], bytes.fromhex(msg["payload"]))
        if env is not None:
            kinds.append(env["kind"])
            if env["kind"] == "switch" and env["data"]["ok"]:
                used.setdefault(env["data"]["switch"], set()).update(env["data"]["methods"].values())
    assert used == {"sw1": {"cli", "snmp"}, "dist": {"netconf"}}, used
    # One poll of every switch (--once): one record per device. A guard with the real switches; the
    # defect itself (a record before the router's ARP table, then again) is in tests/correlate/test_first_hold.py.
    records = Counter(json.loads(line)["topic"].rsplit("/", 1)[1] for line in received.read_text().splitlines()
                      if "/devices/" in json.loads(line)["topic"])
    assert records and set(records.values()) == {1}, records
    assert {"status", "switch", "device", "event", "flows", "health"} <= set(kinds), kinds
