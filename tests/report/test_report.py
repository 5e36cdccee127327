"""``sensor report`` end to end: a sensor run (real supervisor, correlator, register, CSAF advisories, local
store), an approved policy exported with ``sensor policy export``, then the report command, then Debian's
chromium rendering the pages from files: checked through the DOM and by screenshots.

The observed matrix and the monitoring state are written with their own code (save_matrix, Monitor) from
conversations made up here: flows through real sockets are covered by tests/flows and tests/policy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import msgspec
import pytest

from collectors.facts import LldpNeighbor, Snapshot
from sensor.config import load_config
from sensor.flows.events import Peer, PolicyViolationEvent
from sensor.flows.model import Conversation, DeviceConversations
from sensor.flows.monitor import Monitor, save_monitor
from sensor.policy.matrix import Entry, Matrix, MatrixState, save_matrix
from sensor.sources import SourceContext
from sensor.supervisor import Supervisor
from tests.conftest import SHARED
from tests.correlate.factory import IPS, PUMP, SW1_PORTS, WS, dist, sw1
from tests.correlate.test_stage import _health

ADVISORIES = SHARED / "corpus" / "advisories"
HOSTILE = '<script>document.title="pwned"</script>pump-icu3'
PHARMACY = "198.18.10.50"
CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def _sw1(t: float) -> Snapshot:
    s = sw1(t)
    pump = LldpNeighbor(switch="sw1", ifindex=SW1_PORTS["ge1"], chassis_id=PUMP, port_id="eth0", sys_name=HOSTILE,
                        sys_desc="Sigma Spectrum <b>infusion</b>", med_class="endpoint-1",
                        med_manufacturer="Baxter", med_model="Sigma Spectrum", med_firmware="6.05")
    return msgspec.structs.replace(s, lldp=(*s.lldp, pump))


class Snapshots:
    name = "lab-snapshots"
    interval = 3600.0
    deadline = 10.0
    continuous = False

    def __init__(self) -> None:
        self.t = time.time()

    async def cycle(self, ctx: SourceContext) -> None:
        for snap in (dist(self.t), _sw1(self.t + 1)):
            await ctx.snapshot(snap)
            await ctx.switch_health(_health(snap.switch), self.t)


POLICY = f"""
[policy]
version = 3
site = "lab"

[[zone]]
name = "medication_delivery"
protected = true
addresses = ["{IPS[PUMP]}/32"]

[[zone]]
name = "clinical_servers"
addresses = ["{PHARMACY}/32"]

[[zone]]
name = "clinical_workstations"
addresses = ["{IPS[WS]}/32"]

[[rule]]
id = "md-hl7"
source = ["zone:medication_delivery"]
destination = ["zone:clinical_servers"]
proto = "tcp"
port = 2575
application = "HL7"
state = "approved"
by = "biomed:ana"
"""


def _flows_state(state: Path, now: float) -> None:
    m = Matrix(MatrixState(entries=[
        Entry(IPS[PUMP], PHARMACY, 6, 2575, PUMP, None, 50_000, 12, 6, now - 3600, now - 60),
        Entry(IPS[WS], IPS[PUMP], 6, 23, WS, PUMP, 900, 2, 1, now - 600, now - 300),  # telnet: not allowed
    ]))
    save_matrix(m, state)
    mon = Monitor()
    conv = DeviceConversations(device=PUMP, mac=PUMP, ip=IPS[PUMP], window_start=datetime.fromtimestamp(now - 600, UTC), window_end=datetime.fromtimestamp(now - 300, UTC),
                               bytes_out=5000, bytes_in=800,
                               conversations=[Conversation(PHARMACY, 2575, 6, "out", 5000, 800, 20, 10, 4)])
    violation = PolicyViolationEvent(
        event="policy_violation", device=PUMP, mac=PUMP, ip=IPS[PUMP], peer=Peer(ip=IPS[WS], port=23, proto=6, dir="in"),
        zone="medication_delivery", peer_zone="clinical_workstations", service="tcp/23", application="telnet",
        bytes=0, packets=0, policy_version=3, policy_hash="h", rule=None, window_start=datetime.fromtimestamp(now - 600, UTC), window_end=datetime.fromtimestamp(now - 300, UTC))
    mon.add_window([conv], [violation], now - 300, {PUMP: (now - 30 * 86400, now - 23 * 86400)})
    save_monitor(mon.state, state)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ADVISORIES.is_dir():
        pytest.skip(f"advisory corpus not found at {ADVISORIES} (../shared absent)")
    import asyncio

    tmp = tmp_path_factory.mktemp("report")
    os.chmod(tmp, 0o700)
    (tmp / "policy.toml").write_text(POLICY)
    (tmp / "register.csv").write_text(
        "asset_tag,manufacturer,model,mac,department,location,owner,high_risk,patchable\n"
        f"P-1,Baxter,Sigma Spectrum 35700BAX,{PUMP},ICU,ICU <3>,=HYPERLINK(\"x\"),yes,no\n"
        "X-9,GE Healthcare,CARESCAPE B450,00:00:5e:00:53:99,ED,ED 1,Biomed B,yes,no\n")
    cfg_path = tmp / "sensor.toml"
    cfg_path.write_text(f'[sensor]\nid = "test"\nsite = "lab"\nstate_dir = "{tmp / "state"}"\n'
                        f'health_interval = "1h"\n[register]\nfile = "{tmp / "register.csv"}"\n'
                        f'[advisories]\ndir = "{ADVISORIES}"\n[policy]\nfile = "{tmp / "policy.toml"}"\n'
                        f'[flows]\nallowed_exporters = ["127.0.0.1"]\ninternal = ["198.18.0.0/15"]\n')
    sensor = str(Path(sys.executable).with_name("sensor"))
    out = subprocess.run([sensor, "policy", "export", "-c", str(cfg_path), "-f", "nftables", "-o",
                          str(tmp / "rules.nft")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    now = time.time()
    _flows_state(tmp / "state", now)
    cfg = load_config(cfg_path)
    assert asyncio.run(Supervisor(cfg, sources=[Snapshots()]).run(once=True)) == 0
    res = subprocess.run([sensor, "report", "-c", str(cfg_path), "--out", str(tmp / "out")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "report written to" in res.stdout and "index.html" in res.stdout
    return tmp / "out"


def page(mac: str) -> str:
    return mac.replace(":", "-") + ".html"


def test_files_escape_untrusted_strings_and_need_nothing_outside(report: Path) -> None:
    pump = (report / "devices" / page(PUMP)).read_text()
    assert "<script>" not in pump and "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;pump-icu3" in pump
    assert "<b>infusion</b>" not in pump and "ICU &lt;3&gt;" in pump
    for f in report.rglob("*.html"):
        text = f.read_text()
        # Self-contained: no script, no stylesheet, font or image loaded from anywhere (links to the
        # advisories' pages are navigation, not assets).
        assert "<script" not in text.lower() and " src=" not in text and "<link" not in text, f
        assert "url(" not in text and "@import" not in text, f
        assert not re.search(r'href="(?!https://|http://|\.\./|[\w-]+(/[\w.-]+)?\.(html|csv|json)\b)', text), f
    csv = (report / "devices.csv").read_text()
    assert "'=HYPERLINK" in csv  # a spreadsheet would run a formula from the register


class Dom(HTMLParser):
    """Elements of a page as chromium serialised its DOM: (tag, attributes) and the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{time.monotonic_ns()}"
    return subprocess.run([CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make installs it: "
                                                             "APT_PACKAGES)")


@needs_chromium
def test_browser_renders_the_pump_evidence_page(report: Path, tmp_path: Path) -> None:
    res = chromium(tmp_path, "--dump-dom", (report / "devices" / page(PUMP)).as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = Dom(res.stdout)
    text = dom.text
    # Had the LLDP name's script run, the serialised DOM would have "pwned" for a title.
    title = re.search(r"<title>([^<]*)</title>", res.stdout)
    assert title is not None and title.group(1).startswith(PUMP) and dom.find("script") == [] and HOSTILE in text
    assert "Baxter" in text and "ge1" in text and "sw1" in text
    assert re.search(r"ICSMA-\d\d-\d{3}-\d\d", text), "the pump's advisories"
    assert "ICSMA-20-170-04" in text
    # Controls: the exported policy, its allowed peer, monitoring with the violation, ownership.
    assert dom.find("dd", **{"class": "segmentation", "data-policy": "exported"})
    assert "exported as nftables" in text and "zone:clinical_servers tcp/2575 HL7 [md-hl7]" in text
    assert "1 policy violation(s) in the last 30 days" in text and "owner =HYPERLINK" in text
    assert {a.get("data-factor") for a in dom.find("tr")} >= {"enforced_segmentation", "active_monitoring"}
    assert "asset P-1" in text


@needs_chromium
def test_browser_port_map_and_matrix(report: Path, tmp_path: Path) -> None:
    sw = next((report / "switches").glob("sw1*.html"))
    res = chromium(tmp_path, "--dump-dom", sw.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = Dom(res.stdout)
    ports = {a["data-port"]: a for a in dom.find("g") if a.get("class") == "port"}
    assert set(ports) == {"ge24", "ge1", "ge2", "ge3", "ge4"}  # one element per port, the spare has nothing
    assert ports["ge24"]["data-role"] == "uplink" and ports["ge4"]["data-role"] == "phone"
    assert ports["ge1"]["data-class"] == "infusion_pump" and ports["ge1"]["data-risk"]
    assert dom.find("polygon", **{"class": "uplink"}) and dom.find("circle", **{"class": "phone"})
    assert HOSTILE in dom.text  # the port's <title> names the device (hover), as text
    index = Dom(chromium(tmp_path, "--dump-dom", (report / "index.html").as_uri()).stdout)
    cells = [a for a in index.find("g") if (a.get("class") or "").startswith("cell")]
    bad = [a for a in cells if a.get("class") == "cell violation"]
    assert len(cells) == 2 and [(a["data-client"], a["data-server"]) for a in bad] == [
        ("clinical_workstations", "medication_delivery")]
    assert "Medical devices on flat networks: 2" in index.text  # pump and monitor share VLAN 10 with the workstation
    shadows = index.find("dd", **{"class": "shadows"})
    assert shadows and "1 medical device(s)" in index.text  # the monitor is not registered
    assert "unseen" in index.text


@needs_chromium
def test_browser_screenshots_are_not_blank(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    sw = next((report / "switches").glob("sw1*.html"))
    for name, url, size in (("portmap", sw.as_uri(), "900,420"), ("index", (report / "index.html").as_uri(),
                                                                  "1200,1600"),
                            ("pump", (report / "devices" / page(PUMP)).as_uri(), "1200,1400")):
        shot = Path(os.environ.get("KEEP_SHOTS", tmp_path)) / f"{name}.png"
        res = chromium(tmp_path, f"--screenshot={shot}", f"--window-size={size}", url)
        assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
        img = Image.open(shot).convert("RGB")
        colours = img.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 20, f"{name}: {len(colours)} colours: blank?"
        if name == "portmap":
            present = {c for _, c in colours}
            assert (0xd7, 0x30, 0x1f) in present  # the infusion pump's port colour
            assert (0x52, 0x52, 0x52) in present  # the uplink's
            dest = os.environ.get("EDGE_SENSOR_PORTMAP_PNG")
            if dest:  # how docs/port-map.png is made
                img.save(dest, optimize=True)


def test_report_command_without_devices(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    cfg = write_config()
    res = subprocess.run([str(Path(sys.executable).with_name("sensor")), "report", "-c", str(cfg), "--out",
                          str(tmp_path / "empty")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "no devices in the local store" in res.stderr
    assert (tmp_path / "empty" / "index.html").exists()
    blocked = tmp_path / "file"
    blocked.write_text("")
    res = subprocess.run([str(Path(sys.executable).with_name("sensor")), "report", "-c", str(cfg), "--out",
                          str(blocked / "x")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "cannot write" in res.stderr and "Traceback" not in res.stderr


def test_forked_workers_write_the_same_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.report import build
    from sensor.report import render

    data = build(400)
    serial = render.write_report(data, tmp_path / "serial")
    monkeypatch.setattr(render, "PARALLEL_FROM", 100)
    monkeypatch.setattr(render.os, "cpu_count", lambda: 2)
    forked = render.write_report(data, tmp_path / "forked")
    assert (forked.pages, forked.total_bytes, forked.largest) == (serial.pages, serial.total_bytes, serial.largest)
    assert serial.pages == 1 + len(data.ports) + 400
    a = {p.relative_to(tmp_path / "serial"): p.read_bytes() for p in (tmp_path / "serial").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "forked"): p.read_bytes() for p in (tmp_path / "forked").rglob("*") if p.is_file()}
    assert a == b
