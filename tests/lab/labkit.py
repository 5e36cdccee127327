"""Helpers for tests that need the namespace lab (lab/up, lab/down).

Import from any test module with::

    from tests.lab import labkit

Typical use in a module::

    @pytest.fixture(scope="module")
    def lab():
        with labkit.running_lab() as lab:   # skips when not root / no netns
            yield lab

    def test_something(lab):
        rows = lab.walk("sw1", labkit.DOT1D_TP_FDB_PORT)
        out = lab.run("es-mgmt", ["ping", "-c1", "198.18.0.11"])

Nothing here needs third-party packages.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LAB_DIR = REPO / "lab"
STATE = Path(os.environ.get("EDGE_LAB_STATE", "/run/edge-sensor-lab"))
LAB_JSON = STATE / "lab.json"
MGMT_NS = "es-mgmt"

# OIDs the lab tests use (numeric; the lab runs with MIBS= so nothing is resolved).
SYS_NAME = "1.3.6.1.2.1.1.5.0"
BRIDGE = "1.3.6.1.2.1.17"
DOT1D_BASE_BRIDGE_ADDRESS = "1.3.6.1.2.1.17.1.1.0"
DOT1D_BASE_PORT_IFINDEX = "1.3.6.1.2.1.17.1.4.1.2"
DOT1D_TP_FDB_PORT = "1.3.6.1.2.1.17.4.3.1.2"
DOT1D_TP_FDB_STATUS = "1.3.6.1.2.1.17.4.3.1.3"
DOT1Q_TP_FDB_PORT = "1.3.6.1.2.1.17.7.1.2.2.1.2"
DOT1Q_TP_FDB_STATUS = "1.3.6.1.2.1.17.7.1.2.2.1.3"
DOT1Q_VLAN_FDB_ID = "1.3.6.1.2.1.17.7.1.4.2.1.3"
IP_NET_TO_PHYS_PHYS_ADDRESS = "1.3.6.1.2.1.4.35.1.4"
LLDP_LOC_PORT_ID = "1.0.8802.1.1.2.1.3.7.1.3"
LLDP_REM_CHASSIS_ID = "1.0.8802.1.1.2.1.4.1.1.5"
LLDP_REM_PORT_ID = "1.0.8802.1.1.2.1.4.1.1.7"
LLDP_REM_SYS_NAME = "1.0.8802.1.1.2.1.4.1.1.9"
LLDP_REM_SYS_CAP_ENABLED = "1.0.8802.1.1.2.1.4.1.1.12"

REQUIRED_TOOLS = ("ip", "bridge", "snmpd", "snmpget", "snmpbulkwalk", "snmpwalk", "lldpd", "lldpcli")

Oid = tuple[int, ...]


# --------------------------------------------------------------- environment
def skip_reason() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the namespace lab needs root (run: sudo .venv/bin/pytest tests/lab)"
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        return f"lab tools missing: {', '.join(missing)} (apt install iproute2 snmpd snmp lldpd)"
    try:
        res = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'ip netns' unavailable: {exc}"
    if res.returncode != 0:
        return f"'ip netns' unavailable: {res.stderr.strip()}"
    probe = "es-probe-netns"
    res = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if res.returncode != 0:
        return f"cannot create network namespaces: {res.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def lab_up(timeout: float = 90) -> Lab:
    """Run lab/up (which tears down leftovers first) and load lab.json."""
    log = Path("/tmp/edge-sensor-lab-up.log")
    with open(log, "w") as fh:  # not a pipe: daemons must not hold our stdout
        res = subprocess.run([str(LAB_DIR / "up")], stdout=fh, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"lab/up failed (exit {res.returncode}):\n{log.read_text()}")
    return Lab.load()


def lab_down(timeout: float = 60) -> None:
    subprocess.run([str(LAB_DIR / "down")], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=timeout, check=False)


LAB_LOCK = Path("/tmp/edge-lab.lock")  # the lock `flock /tmp/edge-lab.lock ...` takes (lab/README.md)


def _lock_holders(path: Path) -> set[int]:
    """PIDs holding a flock(2) lock on ``path`` (from /proc/locks)."""
    st = path.stat()
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text().splitlines():
            f = line.split()
            if len(f) >= 6 and f[1] == "FLOCK" and f[5] == ident:
                holders.add(int(f[4]))
    return holders


def _ancestors() -> set[int]:
    out, pid = set(), os.getpid()
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state: the parent's pid
        out.add(pid)
    return out


@contextlib.contextmanager
def lab_lock(path: Path = LAB_LOCK) -> Iterator[None]:
    """Hold the shared lab's lock, waiting for another run that holds it; free when an ancestor
    process holds it already (`flock /tmp/edge-lab.lock pytest ...`: waiting would deadlock)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not _lock_holders(path) & _ancestors():
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def running_lab() -> Iterator[Lab]:
    """Bring the lab up, yield it, always tear it down.  pytest.skip()s when impossible.

    Under the lab lock: two test runs on one machine (a developer's and CI's) would otherwise tear
    down each other's lab."""
    reason = skip_reason()
    if reason:
        import pytest

        pytest.skip(reason)
    with lab_lock():
        try:
            yield lab_up()
        finally:
            lab_down()


@contextlib.contextmanager
def segmented_lab() -> Iterator[Lab]:
    """The lab in its segmented layout (lab/up, then lab/segment), always torn down."""
    with running_lab():
        log = Path("/tmp/edge-sensor-lab-segment.log")
        with open(log, "w") as fh:
            res = subprocess.run([str(LAB_DIR / "segment")], stdout=fh, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"lab/segment failed (exit {res.returncode}):\n{log.read_text()}")
        yield Lab.load()


def read_lab_json(path: Path = LAB_JSON) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def run_in_ns(ns: str, argv: Sequence[str], *, timeout: float = 30, check: bool = False,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run argv inside network namespace ns (MIBS= so net-snmp stays quiet)."""
    full_env = {**os.environ, "MIBS": "", **(env or {})}
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                          timeout=timeout, check=check, env=full_env, stdin=subprocess.DEVNULL)


# --------------------------------------------------------------- SNMP output
def oid_tuple(oid: str) -> Oid:
    oid = oid.strip().lstrip(".")
    return tuple(int(x) for x in oid.split(".")) if oid else ()


def _value(typ: str, raw: str) -> Any:
    raw = raw.strip()
    if typ in ("INTEGER", "Gauge32", "Counter32", "Counter64", "Unsigned32", "Timeticks"):
        return int(raw.split()[0].strip("()"))
    if typ == "Hex-STRING":
        return bytes.fromhex(raw.replace(" ", "").replace("\n", ""))
    if typ == "STRING":
        if raw.startswith('"') and raw.endswith('"'):
            raw = raw[1:-1]
        return raw.encode()
    if typ == "OID":
        return raw
    return raw


def parse_snmp_output(text: str) -> list[tuple[Oid, str, Any]]:
    """Parse `-On -Ox -Ot -Oe` net-snmp output into (oid, type, value) rows.

    Octet strings come back as bytes (always hex on the wire with -Ox), integers
    as int.  Continuation lines of long hex strings are joined.
    """
    rows: list[list[Any]] = []
    for line in text.splitlines():
        if line.startswith(".") and " = " in line:
            oid, rest = line.split(" = ", 1)
            if ": " in rest:
                typ, raw = rest.split(": ", 1)
            elif rest.strip() == '""':
                typ, raw = "STRING", '""'
            else:
                typ, raw = rest.strip(), ""
            rows.append([oid_tuple(oid), typ, raw])
        elif rows and line.strip():
            rows[-1][2] += " " + line.strip()
    out = []
    for oid, typ, raw in rows:
        if typ.startswith("No Such") or "No more variables" in typ:
            continue
        out.append((oid, typ, _value(typ, raw)))
    return out


def mac_str(octets: bytes | Sequence[int]) -> str:
    return ":".join(f"{b:02x}" for b in octets)


# --------------------------------------------------------------- the lab
@dataclass
class Lab:
    data: dict[str, Any]
    state: Path = STATE
    _secrets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = LAB_JSON) -> Lab:
        return cls(read_lab_json(path), Path(path).parent)

    # ---- ground truth
    @property
    def switches(self) -> list[dict[str, Any]]:
        return self.data["switches"]

    @property
    def devices(self) -> list[dict[str, Any]]:
        return self.data["devices"]

    def switch(self, name: str) -> dict[str, Any]:
        return next(s for s in self.switches if s["name"] == name)

    def device(self, name: str) -> dict[str, Any]:
        return next(d for d in self.devices if d["name"] == name)

    def secret(self, key: str) -> str:
        """key: community_file | auth_key_file | priv_key_file (newline stripped)."""
        creds = self.data["credentials"]
        path = creds[key] if key in creds else creds["v3"][key]
        return Path(path).read_text().strip()

    @property
    def community(self) -> str:
        return self.secret("community_file")

    def v3_args(self, *, auth: str | None = None, priv: str | None = None,
                level: str = "authPriv") -> list[str]:
        v3 = self.data["credentials"]["v3"]
        args = ["-v3", "-l", level, "-u", v3["user"]]
        if level in ("authNoPriv", "authPriv"):
            args += ["-a", v3["auth_protocol_netsnmp"], "-A", auth or self.secret("auth_key_file")]
        if level == "authPriv":
            args += ["-x", v3["priv_protocol_netsnmp"], "-X", priv or self.secret("priv_key_file")]
        return args

    def v2c_args(self, community: str | None = None) -> list[str]:
        return ["-v2c", "-c", community or self.community]

    # ---- running things
    def run(self, ns: str, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        return run_in_ns(ns, argv, **kw)

    def snmp(self, tool: str, switch: str, oids: Sequence[str], *, auth: Sequence[str] | None = None,
             timeout: int = 2, retries: int = 1, extra: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
        """Run a net-snmp tool from the sensor's namespace against a lab switch."""
        sw = self.switch(switch)
        argv = [tool, "-On", "-Ox", "-Ot", "-Oe", "-t", str(timeout), "-r", str(retries),
                *(auth if auth is not None else self.v2c_args()), *extra,
                f"udp:{sw['mgmt_ip']}:{sw['snmp_port']}", *oids]
        return self.run(MGMT_NS, argv, timeout=120)

    def walk(self, switch: str, oid: str, *, bulk: bool = True, **kw: Any) -> dict[Oid, Any]:
        """Walk a subtree; returns {index suffix below oid: value}."""
        res = self.snmp("snmpbulkwalk" if bulk else "snmpwalk", switch, [oid], **kw)
        if res.returncode != 0:
            raise RuntimeError(f"walk {oid} on {switch} failed: {res.stderr.strip()}")
        base = oid_tuple(oid)
        return {o[len(base):]: v for o, _t, v in parse_snmp_output(res.stdout) if o[:len(base)] == base}

    def get(self, switch: str, *oids: str, **kw: Any) -> dict[Oid, Any]:
        res = self.snmp("snmpget", switch, list(oids), **kw)
        if res.returncode != 0:
            raise RuntimeError(f"get {oids} on {switch} failed: {res.stderr.strip()}")
        return {o: v for o, _t, v in parse_snmp_output(res.stdout)}

    def traffic(self) -> None:
        subprocess.run([str(LAB_DIR / "traffic"), "--quiet"], check=True, timeout=60,
                       stdin=subprocess.DEVNULL, capture_output=True)


# --------------------------------------------------------------- re-plugging (correlation scenarios)
def replug(lab: Lab, device: str, new_port: str, *, port_mac: str | None = None) -> None:
    """Unplug ``device`` (a lab.json device name) from its sw1 port and plug it into ``new_port``.

    The device keeps its MAC and addresses: its old link goes down (so the bridge
    flushes the old FDB entry), a new veth ``new_port`` (sw1) <-> ``eth1`` (device) is
    created, enslaved to sw1's bridge, and the device pings its gateway so that the
    bridge and the router learn it on the new port.
    """
    d = lab.device(device)
    ns, mac = d["namespace"], d["mac"]
    port_mac = port_mac or f"94:18:82:01:00:{int(new_port.lstrip('ge')):02x}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    ip("-n", ns, "link", "set", "eth0", "down")
    ip("-n", ns, "addr", "flush", "dev", "eth0")
    ip("link", "add", "name", new_port, "address", port_mac, "netns", "es-sw1", "type", "veth",
       "peer", "name", "eth1", "address", mac, "netns", ns)
    ip("-n", "es-sw1", "link", "set", new_port, "master", "br0")
    ip("-n", "es-sw1", "link", "set", new_port, "up")
    ip("-n", ns, "addr", "add", f"{d['ipv4']}/24", "dev", "eth1")
    ip("-n", ns, "-6", "addr", "add", f"{d['ipv6']}/64", "dev", "eth1", "nodad")
    ip("-n", ns, "link", "set", "eth1", "up")
    ip("-n", ns, "route", "replace", "default", "via", d["gateway4"])
    subprocess.run(["bridge", "-n", "es-sw1", "fdb", "del", mac, "dev", d["port"], "master"],
                   capture_output=True, timeout=10)  # usually gone already with the link
    run_in_ns(ns, ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", d["gateway4"]], timeout=20)


def silence(lab: Lab, device: str) -> None:
    """Make ``device`` go silent: its link goes down and the bridge forgets its MAC.

    Returns once sw1's BRIDGE-MIB no longer lists the MAC: lab/bin/bridge-mib caches the
    kernel's table for about a second, and polls that fast would still see it."""
    import time

    d = lab.device(device)
    subprocess.run(["ip", "-n", d["namespace"], "link", "set", "eth0", "down"], check=True,
                   capture_output=True, timeout=10)
    subprocess.run(["bridge", "-n", "es-sw1", "fdb", "del", d["mac"], "dev", d["port"], "master"],
                   capture_output=True, timeout=10)  # usually gone already with the link
    index = tuple(int(x, 16) for x in d["mac"].split(":"))
    deadline = time.monotonic() + 30
    while index in lab.walk("sw1", DOT1D_TP_FDB_PORT):
        if time.monotonic() > deadline:
            raise RuntimeError(f"sw1 still lists {device} ({d['mac']}) 30 s after its link went down")
        time.sleep(0.2)


def snapshot_from_poll(doc: dict[str, Any], switch: str) -> Any:
    """The Snapshot behind one `sensor poll --json` document (for feeding the correlator in tests)."""
    import time

    import msgspec

    from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor, Snapshot, SwitchInfo

    conv = msgspec.convert
    return Snapshot(
        switch=switch, taken_at=time.time(), method="snmp",
        system=conv(doc["system"], SwitchInfo) if doc.get("system") else None,
        interfaces=tuple(conv(i, Interface) for i in doc["interfaces"]),
        fdb=tuple(conv(e, FdbEntry) for e in doc["fdb"]),
        arp=tuple(conv(a, ArpEntry) for a in doc["arp"]),
        lldp=tuple(conv(n, LldpNeighbor) for n in [*doc.get("lldp", []), *doc.get("cdp", [])]),
        errors=tuple(doc.get("errors") or ()),
    )
