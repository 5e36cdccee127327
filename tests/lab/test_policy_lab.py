"""The proof, in the lab, with real traffic: does every device still work after segmentation?

The lab in its segmented layout (lab/up, lab/segment): the pump and the monitor on their own
segment (198.18.30.0/24) routed by dist, a central station and an address outside the hospital
(203.0.113.10) behind dist. The sensor runs (`sensor run` in es-mgmt, a real Mosquitto, IPFIX from
softflowd on sw1's bridge and on dist's segment bridge) while the lab's clinical traffic runs:
pump -> pharmacy HL7, monitor -> central station and pharmacy, workstation -> EMR web. Then
`sensor policy propose`, `approve --all`, `simulate` (nothing observed would be blocked), `export`
in every format (nftables checked by `nft -c`, Aerleon's aclcheck: each observed flow permitted, an
unobserved one denied), and the cutover: the nftables ruleset loaded on dist and the approved file
watched by the running sensor. Real connections show that every communication seen before the
cutover still works, that the workstation can no longer reach the pump nor the pump the outside,
and the sensor publishes a `policy_violation` for each attempt (and none for allowed traffic).

Run: flock /tmp/edge-lab.lock .venv/bin/pytest -s tests/lab/test_policy_lab.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import labkit
from tests.support.mosquitto import free_port
from tests.support.schemas import validate_message

REPO = Path(__file__).resolve().parents[2]
SYS_PY = "/usr/bin/python3"  # the namespaces' clients need nothing but the standard library
WINDOW = 6  # seconds: the flow window, short so that the proof stays short

# One real exchange: TCP connect + a line back, or a UDP datagram echoed. Exit 0 only when answered.
PROBE = """
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if proto == "tcp":
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"probe")
            sys.exit(0 if s.recv(100) else 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"probe", (host, port))
    sys.exit(0 if s.recvfrom(100)[0] else 1)
except OSError as e:
    print(e)
    sys.exit(1)
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[labkit.Lab]:
    if shutil.which("nft") is None:
        pytest.skip("nft not installed (Debian package nftables): dist cannot enforce the policy")
    with labkit.segmented_lab() as lab:
        yield lab


def reach(ns: str, proto: str, host: str, port: int) -> bool:
    r = labkit.run_in_ns(ns, [SYS_PY, "-c", PROBE, proto, host, str(port)], timeout=10)
    return r.returncode == 0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "sensor.cli", *args], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def expire_flows(lab: labkit.Lab) -> None:
    """Make every softflowd (sw1's bridge, dist's segment bridge) export what it has seen, now."""
    assert (lab.state / "dist" / "softflowd-seg.ctl").exists(), "no softflowd on dist's segment bridge"
    subprocess.run([str(labkit.LAB_DIR / "flow-export")], check=True, capture_output=True, timeout=30)


class Hub:
    """Mosquitto and a subscriber inside es-mgmt; every message validated against its schema."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log: Path | None = None  # the sensor's log, shown when a wait fails
        self._read = 0
        self._seen: list[tuple[float, dict[str, Any]]] = []
        self.file = workdir / "received.jsonl"
        (workdir / "mosquitto.conf").write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                                                "user root\npersistence false\n")
        self.broker = subprocess.Popen(["ip", "netns", "exec", labkit.MGMT_NS, "mosquitto", "-c",
                                        str(workdir / "mosquitto.conf")],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        self.sub = subprocess.Popen(["ip", "netns", "exec", labkit.MGMT_NS, "mosquitto_sub", "-p", str(self.port),
                                     "-q", "1", "-t", "edge-sensor/#", "-F", '{"topic": "%t", "payload": "%x"}'],
                                    stdout=self.file.open("w"), stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def messages(self) -> list[tuple[float, dict[str, Any]]]:
        """Every message so far (with when the test first read it), each validated once."""
        lines = self.file.read_text().split("\n")[:-1]  # the last one may be half written
        for line in lines[self._read:]:
            msg = json.loads(line)
            env = validate_message(msg["topic"], bytes.fromhex(msg["payload"]))
            if env is not None:
                self._seen.append((time.time(), env))
        self._read = max(self._read, len(lines))
        return self._seen

    def wait(self, what: str, pick: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _t, env in self.messages():
                if pick(env):
                    return env
            time.sleep(0.3)
        tail = self.log.read_text()[-3000:] if self.log and self.log.exists() else ""
        raise AssertionError(f"no {what} within {timeout:.0f} s; the sensor's log ends with:\n{tail}")

    def stop(self) -> None:
        for p in (self.sub, self.broker):
            p.terminate()
            p.wait(10)


def violations(hub: Hub) -> list[dict[str, Any]]:
    return [env["data"] for _t, env in hub.messages()
            if env["kind"] == "event" and env["data"].get("event") == "policy_violation"]


def is_between(ev: dict[str, Any], a: str, b: str, port: int) -> bool:
    return {ev["ip"], ev["peer"]["ip"]} == {a, b} and ev["peer"]["port"] == port


def test_segmentation_keeps_devices_working_and_blocks_the_rest(lab: labkit.Lab, tmp_path: Path) -> None:
    t: dict[str, float] = {}
    t0 = time.monotonic()
    dev = {d["name"]: d for d in lab.devices}
    pump, mon, ws = dev["pump"]["ipv4"], dev["monitor"]["ipv4"], dev["workstation"]["ipv4"]
    srv, cs, outside = lab.data["servers"][0]["ipv4"], lab.data["central_station"]["ipv4"], lab.data["outside"]["ipv4"]
    assert pump.startswith("198.18.30.") and mon.startswith("198.18.30."), "lab/segment did not move them"
    # What the clinical traffic does, and what nobody did before the cutover.
    observed = [("es-pump", "tcp", srv, 2575), ("es-mon", "tcp", cs, 24005), ("es-mon", "udp", srv, 24105),
                ("es-ws", "tcp", srv, 443)]
    never = [("es-ws", "tcp", pump, 443), ("es-pump", "tcp", outside, 443)]

    sensor = lab.data["sensor"]
    approved = tmp_path / "approved.toml"   # [policy] file: watched once it exists (the cutover)
    staged = tmp_path / "staged.toml"       # the reviewed proposal before the cutover
    base = Path(sensor["config"]).read_text().replace(f'state_dir = "{lab.state}/state"',
                                                      f'state_dir = "{tmp_path / "state"}"')
    # sw1 over SSH first: `bridge fdb show` covers both of its bridges (the BRIDGE-MIB agent serves br0 only).
    assert 'methods = ["snmp", "cli"]' in base
    base = base.replace('methods = ["snmp", "cli"]', 'methods = ["cli", "snmp"]')
    sw1_ip, dist_ip = lab.switch("sw1")["mgmt_ip"], lab.switch("dist")["mgmt_ip"]
    hub = Hub(tmp_path)
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(base + f"""
[mqtt]
host = "127.0.0.1"
port = {hub.port}
drain_timeout = "20s"

[flows]                      # IPFIX only: softflowd on sw1's br0 and on dist's segment bridge
listen = ["{sensor['ipv4']}:4739"]
allowed_exporters = ["{sw1_ip}/32", "{dist_ip}/32"]
window = "{WINDOW}s"
internal = ["198.18.0.0/15", "fd00::/8"]

[policy]
file = "{approved}"
min_observations = 1         # a short lab run: each flow is seen in one or two windows
""")
    log = tmp_path / "sensor.log"
    hub.log = log
    run = subprocess.Popen(["ip", "netns", "exec", sensor["namespace"], sys.executable, "-m", "sensor.cli", "run",
                            "--config", str(cfg)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        # 1. The sensor knows the devices where they now are (segment addresses from dist's ARP).
        for name in ("pump", "monitor", "workstation"):
            d = dev[name]
            hub.wait(f"device record of the {name} with {d['ipv4']}",
                     lambda e, d=d: e["kind"] == "device" and e["data"].get("mac") == d["mac"]
                     and d["ipv4"] in {i.get("ip") for i in e["data"].get("ips", [])}, 60)
        t["devices known"] = time.monotonic() - t0

        # 2. Clinical traffic, observed in flows until the matrix holds every communication.
        ts = time.monotonic()
        traffic = subprocess.run([str(labkit.LAB_DIR / "clinical-traffic")], capture_output=True, text=True,
                                 timeout=60)
        assert traffic.returncode == 0, traffic.stderr
        want = {(pump, srv, 2575), (mon, cs, 24005), (mon, srv, 24105), (ws, srv, 443)}
        deadline = time.monotonic() + 6 * WINDOW + 10
        rows: list[dict[str, Any]] = []
        last_export = time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() - last_export > 2 * WINDOW:  # a loaded machine: ask the exporters again
                expire_flows(lab)
                last_export = time.monotonic()
            r = cli("policy", "matrix", "-c", str(cfg), "--json")
            rows = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("[") else []
            if want <= {(x["ip"], x["peer"], x["port"]) for x in rows if x["initiator"] == "device"}:
                break
            time.sleep(1)
        seen = {(x["ip"], x["peer"], x["port"]) for x in rows if x["initiator"] == "device"}
        flows = [(e["data"]["ip"], e["data"]["conversations"]) for _t, e in hub.messages() if e["kind"] == "flows"]
        health = [e["data"] for _t, e in hub.messages() if e["kind"] == "health"][-1:]
        assert want <= seen, (f"missing from the observed matrix: {want - seen}; seen {seen}; flows {flows}; "
                              f"health {health}; log {log.read_text()[-3000:]}")
        assert not {(a, b) for a, b, _p in seen} & {(ws, pump), (pump, outside)}
        t["traffic -> matrix"] = time.monotonic() - ts

        # 3. Propose, approve everything, simulate: nothing observed would be blocked.
        ts = time.monotonic()
        r = cli("policy", "propose", "-c", str(cfg))
        assert r.returncode == 0, r.stderr
        print("\n" + r.stdout)
        from sensor.policy.document import load_policy

        proposal = load_policy(tmp_path / "state" / "policy" / "proposed.toml")
        zones = {z.name: z for z in proposal.zone}
        assert f"{pump}/32" in zones["medication_delivery"].addresses, r.stdout
        assert f"{mon}/32" in zones["patient_monitoring"].addresses, r.stdout
        assert zones["medication_delivery"].protected and zones["patient_monitoring"].protected
        assert zones["medication_delivery"].devices == zones["patient_monitoring"].devices == 1, r.stdout
        hl7 = [x for x in proposal.rule if x.port == 2575 and x.proto == "tcp"]
        assert hl7 and hl7[0].application == "HL7 MLLP" and hl7[0].kind == "allow", r.stdout
        assert hl7[0].evidence.bytes > 0 and hl7[0].evidence.devices == 1
        r = cli("policy", "approve", "-c", str(cfg), "--all", "--by", "biomed:lab", "--ticket", "LAB-15",
                "--to", str(staged))
        assert r.returncode == 0, r.stderr
        r = cli("policy", "simulate", "-c", str(cfg), "--policy", str(staged), "--json")
        sim = json.loads(r.stdout)
        assert sim["blocked"] == [] and sim["in_scope"] >= 3, sim
        t["propose + approve + simulate"] = time.monotonic() - ts

        # 4. Every format compiles; nft accepts the ruleset; aclcheck agrees with what was observed.
        from aerleon.lib import aclcheck, naming

        from sensor.policy.export import FORMATS, aerleon_inputs

        ts = time.monotonic()
        for fmt in FORMATS:
            r = cli("policy", "export", "-c", str(cfg), "--policy", str(staged), "--format", fmt, "-o",
                    str(tmp_path / f"policy.{fmt}"))
            assert r.returncode == 0, (fmt, r.stderr)
        nft = tmp_path / "policy.nftables"
        r = subprocess.run(["nft", "-c", "-f", str(nft)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        doc = load_policy(staged)
        pols, defs = aerleon_inputs(doc, "cisco")
        names = naming.Naming()
        names.ParseDefinitionsObject(defs, "")

        def action(src: str, dst: str, port: int, proto: str) -> str:
            check = aclcheck.AclCheck.FromPolicyDict(pols[0], names, src, dst, "any", port, proto)
            return str(check.ExactMatches()[0].action)

        src_of = {"es-pump": pump, "es-mon": mon, "es-ws": ws}
        assert [action(src_of[ns], h, p, pr) for ns, pr, h, p in observed] == ["accept"] * len(observed)
        assert [action(src_of[ns], h, p, pr) for ns, pr, h, p in never] == ["deny"] * len(never)
        t["export (9 formats) + nft -c + aclcheck"] = time.monotonic() - ts

        # 5. Before the cutover everything, observed or not, gets through.
        before = {f"{ns} -> {h}:{p}/{pr}": reach(ns, pr, h, p) for ns, pr, h, p in observed + never}
        assert all(before.values()), before
        # ... and those probes are folded into a window while no policy is watched yet.
        expire_flows(lab)
        hub.wait("the pre-cutover workstation -> pump flow", lambda e: e["kind"] == "flows" and any(
            c[0] == pump and c[1] == 443 for c in e["data"].get("conversations", [])), 3 * WINDOW + 10)

        # 6. Cutover: the ruleset on dist, the approved file watched by the running sensor.
        ts = time.monotonic()
        r = labkit.run_in_ns("es-dist", ["nft", "-f", str(nft)])
        assert r.returncode == 0, r.stderr
        t["nft -f on dist"] = time.monotonic() - ts
        shutil.copy(staged, approved)
        r = cli("check-config", str(cfg))  # the approved file is checked like the rest of the configuration
        assert r.returncode == 0, r.stderr
        digest = doc.digest()
        hub.wait("the retained policy message", lambda e: e["kind"] == "policy" and e["data"]["hash"] == digest,
                 3 * WINDOW + 10)
        t["cutover -> policy watched"] = time.monotonic() - ts

        # 7. After: what was observed still works; the rest is blocked on dist.
        after = {f"{ns} -> {h}:{p}/{pr}": reach(ns, pr, h, p) for ns, pr, h, p in observed}
        ta = time.time()
        blocked = {f"{ns} -> {h}:{p}/{pr}": not reach(ns, pr, h, p) for ns, pr, h, p in never}
        print(f"before the cutover: {before}\nafter, still working: {after}\nafter, blocked: {blocked}")
        assert all(after.values()), after
        assert all(blocked.values()), blocked
        counters = labkit.run_in_ns("es-dist", ["nft", "list", "ruleset"]).stdout
        assert "filtering_policies" in counters

        # 8. The sensor saw the attempts in flows and says so.
        ts = time.monotonic()
        expire_flows(lab)
        ev = hub.wait("policy_violation for the workstation's attempt on the pump",
                      lambda e: e["kind"] == "event" and e["data"].get("event") == "policy_violation"
                      and is_between(e["data"], ws, pump, 443), 3 * WINDOW + 10)
        t["attempt -> policy_violation"] = time.time() - ta
        t["expire -> policy_violation"] = time.monotonic() - ts
        print(f"policy_violation: {json.dumps(ev['data'])}")
        assert ev["data"]["policy_hash"] == digest
        hub.wait("policy_violation for the pump's attempt outside", lambda e: e["kind"] == "event"
                 and e["data"].get("event") == "policy_violation" and is_between(e["data"], pump, outside, 443),
                 3 * WINDOW + 10)
        time.sleep(WINDOW + 2)  # one more window: allowed traffic must never be reported
        allowed_pairs = [(src_of[ns], h, p) for ns, _pr, h, p in observed]
        wrong = [v for v in violations(hub) if any(is_between(v, a, b, p) for a, b, p in allowed_pairs)]
        assert wrong == [], wrong
    finally:
        run.terminate()
        try:
            run.wait(30)
        except subprocess.TimeoutExpired:
            run.kill()
        hub.stop()
        labkit.run_in_ns("es-dist", ["nft", "delete", "table", "inet", "filtering_policies"])
        labkit.run_in_ns("es-dist", ["nft", "delete", "table", "ip", "filtering_policies"])
    assert run.returncode in (0, -15), log.read_text()[-2000:]
    t["total"] = time.monotonic() - t0
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
