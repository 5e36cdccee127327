"""Flows in the lab: softflowd on sw1's bridge exports NetFlow v5, v9 and IPFIX to the sensor.

The pump sends HL7 (MLLP, tcp/2575) to the pharmacy server; the conversations the
sensor's aggregation builds from each export version must show exactly that, and
a sensor listening to all three counts the traffic once, not three times. Then,
after a short learning period, the pump sends DNS to an outside address (a lab
namespace es-out, 203.0.113.53, behind dist): exactly one anomaly event.
Needs root; skipped otherwise (labkit).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab import labkit

REPO = labkit.REPO
PORTS = {"v5": 2055, "v9": 2056, "ipfix": 4739}
OUTSIDE = "203.0.113.53"
LEARNING = 4.0


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    if shutil.which("softflowd") is None:
        pytest.skip("softflowd missing (apt install softflowd)")
    with labkit.running_lab() as lab:
        yield lab


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def outside(lab: labkit.Lab) -> str:
    """An "outside" namespace 203.0.113.0/24 behind dist (removed by lab/down with the rest)."""
    sh("ip", "netns", "add", "es-out")
    sh("ip", "link", "add", "ge3", "netns", "es-dist", "type", "veth", "peer", "name", "eth0", "netns", "es-out")
    sh("ip", "-n", "es-dist", "addr", "add", "203.0.113.1/24", "dev", "ge3")
    sh("ip", "-n", "es-dist", "link", "set", "ge3", "up")
    sh("ip", "-n", "es-out", "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
    sh("ip", "-n", "es-out", "link", "set", "eth0", "up")
    sh("ip", "-n", "es-out", "link", "set", "lo", "up")
    sh("ip", "-n", "es-out", "route", "add", "default", "via", "203.0.113.1")
    return OUTSIDE


class Catcher:
    def __init__(self, lab: labkit.Lab) -> None:
        cfg = {
            "ports": PORTS, "internal": ["198.18.0.0/15", "fd00:18::/32"], "dns_resolvers": ["198.18.20.10"],
            "learning_period": LEARNING,
            "macs": {d[k]: d["mac"] for d in lab.devices for k in ("ipv4", "ipv6") if k in d},
            "medical_macs": [lab.device("pump")["mac"], lab.device("monitor")["mac"]],
        }
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", labkit.MGMT_NS, str(REPO / ".venv/bin/python"), str(REPO / "tests/lab/flowcatch.py"),
             json.dumps(cfg)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert json.loads(self.readline())["ready"]

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "flowcatch exited"
        return line

    def window(self, settle: float = 1.5) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"window {settle}\n")
        self.proc.stdin.flush()
        return json.loads(self.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def catcher(lab: labkit.Lab) -> Iterator[Catcher]:
    c = Catcher(lab)
    try:
        yield c
    finally:
        c.close()


def expire_all(lab: labkit.Lab) -> None:
    for name in PORTS:
        ctl = lab.state / "sw1" / f"softflowd-{name}.ctl"
        subprocess.run(["softflowctl", "-c", str(ctl), "expire-all"], check=True, capture_output=True, timeout=10)


HL7_CLIENT = """
import socket, sys
msg = b"\\x0bMSH|^~\\\\&|PUMP|WARD|PHARM|SRV|20240101||RDE^O11|1|P|2.5\\r" + b"X" * 400 + b"\\x1c\\r"
for _ in range(int(sys.argv[1])):
    with socket.create_connection(("198.18.20.10", 2575), timeout=3) as s:
        for _ in range(20):
            s.sendall(msg); s.recv(4096)
"""


def pump_hl7(lab: labkit.Lab, connections: int = 30) -> None:
    res = lab.run("es-pump", ["python3", "-c", HL7_CLIENT, str(connections)], timeout=60)
    assert res.returncode == 0, res.stderr


def pump_dns(lab: labkit.Lab, target: str) -> None:
    code = ("import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "q=bytes.fromhex('123401000001000000000000076578616d706c65036f72670000010001')\n"
            f"[s.sendto(q, ('{target}', 53)) for _ in range(20)]")
    res = lab.run("es-pump", ["python3", "-c", code], timeout=30)
    assert res.returncode == 0, res.stderr


def conv(result: dict[str, Any], device: str) -> list[dict[str, Any]]:
    for dc in result["conversations"]:
        if dc["device"] == device:
            return dc["conversations"]
    return []


def test_conversations_match_generated_traffic_v5_v9_ipfix(lab: labkit.Lab, catcher: Catcher) -> None:
    pump = lab.device("pump")
    catcher.window(0)  # start clean
    pump_hl7(lab)
    expire_all(lab)
    res = catcher.window()
    hl7s = {}
    for name in (*PORTS, "all"):
        part = res[name]
        assert part["datagrams"] > 0 and part["errors"] == 0, (name, part)
        convs = conv(part, pump["mac"])
        # [peer, port, proto, dir, bytes_out, bytes_in, packets_out, packets_in, flows, exporters, sampling, from]
        hl7 = [c for c in convs if c[0] == "198.18.20.10" and c[1] == 2575 and c[2] == 6]
        assert len(hl7) == 1, (name, convs)
        _peer, _port, _proto, direction, b_out, b_in, p_out, p_in, flows, exporters, sampling, _from = hl7[0]
        assert direction == "out" and sampling == 1
        assert b_out > 30 * 20 * 400 and b_in > 0 and p_out >= 30 * 20 and p_in > 0
        assert flows >= 30  # one flow per connection and direction at least
        hl7s[name] = (b_out, b_in, p_out, p_in, flows, exporters)
    # Listening to all three, the sensor counts the pump's HL7 once: the numbers of one
    # exporter (IPFIX, the stable choice among equals), not the sum of three.
    *counters, exporters = hl7s["all"]
    assert counters == list(hl7s["ipfix"][:5]), hl7s
    assert hl7s["all"][0] <= max(hl7s[v][0] for v in PORTS)  # not the sum of the three (3x before)
    assert 3 * hl7s["all"][0] >= sum(hl7s[v][0] for v in PORTS) * 0.9
    assert len(exporters) == 3 and exporters[0].endswith(" ipfix")
    assert {e.split()[1] for e in exporters} == {"ipfix", "v9", "v5"}
    # only IPFIX (-T ether) carries MACs: the pump's frames go to the gateway's MAC
    assert res["ipfix"]["conversations"]


def test_anomaly_dns_to_outside_raises_exactly_one_event(lab: labkit.Lab, catcher: Catcher, outside: str) -> None:
    pump = lab.device("pump")
    time.sleep(LEARNING + 0.5)  # the pump's learning period (started at its first window) is over
    pump_dns(lab, outside)
    pump_hl7(lab)  # known behaviour (no event), and the burst that makes softflowd's libpcap buffer hand over
    expire_all(lab)
    res = catcher.window()
    events = res["ipfix"]["events"]
    assert len(events) == 1, json.dumps(events, indent=1)
    ev = events[0]
    assert ev["device"] == pump["mac"] and ev["ip"] == pump["ipv4"]
    assert ev["peer"]["ip"] == outside and ev["peer"]["port"] == 53 and ev["peer"]["proto"] == 17
    rules = {r["rule"] for r in ev["reasons"]}
    assert rules == {"new_external_destination", "dns_unlisted_resolver"}
    assert all(r["why"] for r in ev["reasons"])
    # the same condition does not fire again in the next window
    pump_dns(lab, outside)
    pump_hl7(lab)
    expire_all(lab)
    again = catcher.window()["ipfix"]
    assert any(c[0] == outside for c in conv(again, pump["mac"]))
    assert again["events"] == []
