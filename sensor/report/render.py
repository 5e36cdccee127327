"""Writing the report: static HTML pages with inline SVG, CSV and JSON beside them.

Every page is self-contained (styles inline, no scripts, fonts or images from
elsewhere) and links to the others by relative paths, so the folder opens from a
file, is copied as a whole, and can be attached to a risk analysis. Templates are
Jinja2 with autoescaping on: device names, LLDP strings and register fields are
untrusted input.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import multiprocessing
import os
import re
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import msgspec

from sensor.correlate.model import DeviceRecord
from sensor.report.data import ReportData
from sensor.report.pictures import CLASS_COLOURS, LEVELS, RISK_COLOURS, class_colour, faceplate, heatmap

MAX_LISTED = 500  # rows of a list on the overview; the rest are counted, and in the CSV
CSV_COLUMNS = ("mac", "present", "switch", "port", "vlan", "vendor", "ips", "class", "medical", "risk", "level",
               "zone", "segmentation", "monitored", "advisories", "advisories_without_fix", "asset_tag", "owner",
               "department", "last_seen")


@dataclass
class Written:
    out: Path
    pages: int = 0
    largest: tuple[str, int] = ("", 0)
    total_bytes: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("sensor.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                             auto_reload=False)  # 10,000 pages: no stat of the templates per page
    env.filters["t"] = _time
    env.filters["page"] = device_page
    env.globals.update(RISK_COLOURS=RISK_COLOURS, class_colour=class_colour)
    return env


@functools.lru_cache(maxsize=65536)
def _time(v: datetime | float | None) -> str:
    if v is None:
        return ""
    if isinstance(v, (int, float)):
        v = datetime.fromtimestamp(v, UTC)
    return v.strftime("%Y-%m-%d %H:%M UTC")


def device_page(mac: str) -> str:
    return f"{mac.replace(':', '-').replace('/', '_')}.html"


def switch_page(name: str) -> str:
    """A file name for a switch's page; names are untrusted, so anything odd is replaced and hashed."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60].lstrip(".") or "switch"
    if safe != name:
        safe += "-" + hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return f"{safe}.html"


def _severity(cvss: float | None) -> str:
    if cvss is None:
        return "unscored"
    return "critical" if cvss >= 9 else "high" if cvss >= 7 else "medium" if cvss >= 4 else "low"


def overview(data: ReportData) -> dict[str, Any]:
    """The counts on the first page."""
    present = [d for d in data.devices if d.present]
    by_class: dict[str, Counter[str]] = {}
    labels: dict[str, str] = {}
    medical_classes: set[str] = set()
    for d in present:
        c = d.classification
        by_class.setdefault(c.device_class, Counter())[d.risk.level] += 1
        labels.setdefault(c.device_class, c.label)
        if c.medical:
            medical_classes.add(c.device_class)
    flat = [d for d in present if d.classification.medical and any(f.name == "flat_network" for f in d.risk.factors)]
    flat.sort(key=lambda d: (-d.risk.score, d.mac))
    advisories: dict[str, dict[str, Any]] = {}
    for d in present:
        for a in d.advisories:
            e = advisories.setdefault(a.advisory, {"match": a, "devices": 0})
            e["devices"] += 1
    sev: dict[str, Counter[str]] = {}
    for e in advisories.values():
        a = e["match"]
        s = sev.setdefault(_severity(a.max_cvss), Counter())
        for r in a.remediations or ("none given",):
            s[r] += 1
    remediations = sorted({r for c in sev.values() for r in c})
    reg = data.register
    top = sorted((d for d in present if d.classification.medical), key=lambda d: (-d.risk.score, d.mac))
    return {
        "present": len(present), "absent": len(data.devices) - len(present),
        "medical": sum(d.classification.medical for d in present),
        "classes": sorted(by_class, key=lambda c: (c not in medical_classes, -sum(by_class[c].values()), c)),
        "by_class": by_class, "labels": labels, "medical_classes": medical_classes,
        "flat": flat[:MAX_LISTED], "flat_count": len(flat),
        "shadows": reg.shadows if reg else None, "unseen": reg.unseen if reg else None,
        "matched": reg.matched if reg else None,
        "advisories": sorted(advisories.values(), key=lambda e: (-(e["match"].max_cvss or 0), e["match"].advisory)),
        "severity": sev, "severities": [s for s in ("critical", "high", "medium", "low", "unscored") if s in sev],
        "remediations": remediations,
        "top": top[:MAX_LISTED], "top_count": len(top),
    }


def csv_row(d: DeviceRecord) -> dict[str, str]:
    att, ctl, reg = d.attachment, d.controls, d.register
    return {
        "mac": d.mac, "present": str(d.present).lower(), "switch": att.switch if att else "",
        "port": att.port if att else "", "vlan": str(att.vlan) if att and att.vlan is not None else "",
        "vendor": d.vendor or "", "ips": " ".join(i.ip for i in d.ips), "class": d.classification.device_class,
        "medical": str(d.classification.medical).lower(), "risk": str(d.risk.score), "level": d.risk.level,
        "zone": ctl.zone if ctl else "", "segmentation": ctl.segmentation.policy if ctl else "",
        "monitored": str(ctl.monitoring.active).lower() if ctl else "",
        "advisories": " ".join(a.advisory for a in d.advisories),
        "advisories_without_fix": " ".join(a.advisory for a in d.advisories if "vendor_fix" not in a.remediations),
        "asset_tag": reg.asset_tag if reg else "", "owner": reg.owner if reg else "",
        "department": reg.department if reg else "", "last_seen": _time(d.last_seen),
    }


def _csv_safe(v: str) -> str:
    # A cell starting with = + - @ is a formula in a spreadsheet; register fields are untrusted.
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


def _put(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


class _Writer:
    """Files are written by a few threads while the next pages render: creating 10,000 files is mostly
    waiting on the file system (seconds on a loaded disk), which overlaps well."""

    def __init__(self, out: Path, result: Written, threads: int = 4) -> None:
        self.out, self.result = out, result
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="report-write")
        self.pending: list[Future[None]] = []

    def close(self) -> None:
        """Wait for every file; the first error is raised (OSError: the command says which folder)."""
        self.pool.shutdown(wait=True)
        for f in self.pending:
            f.result()

    def write(self, rel: str, text: str | bytes) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        self.pending.append(self.pool.submit(_put, self.out / rel, data))
        self.result.total_bytes += len(data)
        if rel.endswith(".html"):
            self.result.pages += 1
            if len(data) > self.result.largest[1]:
                self.result.largest = (rel, len(data))


def write_report(data: ReportData, out: str | os.PathLike[str]) -> Written:
    """Write the report into ``out`` (created; files of an earlier report there are replaced)."""
    started = time.perf_counter()
    outp = Path(out)
    (outp / "devices").mkdir(parents=True, exist_ok=True)
    (outp / "switches").mkdir(parents=True, exist_ok=True)
    res = Written(out=outp)
    w = _Writer(outp, res)
    try:
        _write_all(data, w)
    finally:
        w.close()
    res.seconds = time.perf_counter() - started
    return res


PARALLEL_FROM = 2000  # devices; below this, forking costs more than it saves
PROCESSES = 2


@dataclass
class _DeviceJob:
    env: jinja2.Environment
    data: ReportData
    port_of: dict[str, dict[str, Any]]
    common: dict[str, str]
    out: Path

    def render(self, lo: int, hi: int, w: _Writer) -> None:
        dev_t = self.env.get_template("device.html")
        data, port_of = self.data, self.port_of
        for d in data.devices[lo:hi]:
            att = d.attachment
            port = port_of[att.switch].get(att.port) if att is not None and att.switch in port_of else None
            w.write(f"devices/{device_page(d.mac)}", dev_t.render(
                root="../", d=d, port=port, swpage=switch_page(att.switch) if att else "",
                events=data.events.get(d.mac, ()), moves=data.moves.get(d.mac, ()), **self.common))


_JOB: _DeviceJob | None = None  # set in the parent just before the workers fork


def _device_pages(bounds: tuple[int, int]) -> tuple[int, tuple[str, int], int]:
    """In a forked worker: one slice of the evidence pages; returns (pages, largest, bytes)."""
    assert _JOB is not None
    res = Written(out=_JOB.out)
    w = _Writer(_JOB.out, res)
    try:
        _JOB.render(bounds[0], bounds[1], w)
    finally:
        w.close()
    return res.pages, res.largest, res.total_bytes


def _write_all(data: ReportData, w: _Writer) -> None:
    env = _env()
    generated = _time(data.generated_at)
    common = {"site": data.site, "sensor": data.sensor, "generated": generated}
    ov = overview(data)
    switches = sorted({d.attachment.switch for d in data.devices if d.attachment} | set(data.ports))
    by_switch: dict[str, list[DeviceRecord]] = {s: [] for s in switches}
    for d in data.devices:
        if d.attachment is not None:
            by_switch[d.attachment.switch].append(d)
    plates = {s: faceplate(s, data.ports.get(s, ()), by_switch[s]) for s in switches}
    hm = heatmap(data.zones, data.cells, data.policy) if data.zones else None
    legend = [(c, col) for c, col in CLASS_COLOURS.items()]
    port_of = {s: {p.name: p for p in plates[s].ports} for s in switches}
    job = _DeviceJob(env, data, port_of, common, w.out)
    n = len(data.devices)
    procs = min(os.cpu_count() or 1, PROCESSES)
    pool = None
    pending = None
    if n >= PARALLEL_FROM and procs > 1 and "fork" in multiprocessing.get_all_start_methods():
        # Rendering is CPU-bound Python: the evidence pages are split between forked workers, which
        # inherit the data and the compiled templates (nothing is pickled but the page counts), while
        # this process writes the overview, the switches' pages, CSV and JSON. The workers fork before
        # this process has started any writer thread.
        global _JOB
        _JOB = job
        step = -(-n // procs)
        pool = multiprocessing.get_context("fork").Pool(procs)
        pending = pool.map_async(_device_pages, [(i, min(n, i + step)) for i in range(0, n, step)])
        _JOB = None  # the workers have their copy
    try:
        _write_rest(data, w, env, ov, switches, by_switch, plates, hm, legend, common, generated)
        if pending is None:
            job.render(0, n, w)
        else:
            for pages, largest, total in pending.get():
                w.result.pages += pages
                w.result.total_bytes += total
                if largest[1] > w.result.largest[1]:
                    w.result.largest = largest
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def _write_rest(data: ReportData, w: _Writer, env: jinja2.Environment, ov: dict[str, Any], switches: list[str],
                by_switch: dict[str, list[DeviceRecord]], plates: dict[str, Any], hm: Any,
                legend: list[tuple[str, str]], common: dict[str, str], generated: str) -> None:
    w.write("index.html", env.get_template("index.html").render(
        root="", ov=ov, data=data, switches=[(s, switch_page(s), len(plates[s].ports),
                                               sum(d.present for d in by_switch[s])) for s in switches],
        heat=hm, levels=LEVELS, **common))
    sw_t = env.get_template("switch.html")
    for s in switches:
        devs = sorted(by_switch[s], key=lambda d: (not d.present, -d.risk.score, d.mac))
        w.write(f"switches/{switch_page(s)}", sw_t.render(root="../", plate=plates[s], devices=devs,
                                                          legend=legend, **common))
    buf = io.StringIO()
    cw = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    cw.writeheader()
    for d in data.devices:
        cw.writerow({k: _csv_safe(v) for k, v in csv_row(d).items()})
    w.write("devices.csv", buf.getvalue())
    w.write("devices.json", msgspec.json.encode(data.devices))
    summary = {"site": data.site, "sensor": data.sensor, "generated_at": generated,
               "devices": ov["present"], "absent": ov["absent"], "medical": ov["medical"],
               "by_class": {c: dict(v) for c, v in ov["by_class"].items()},
               "medical_on_flat_networks": ov["flat_count"], "shadow_devices": ov["shadows"],
               "unseen_assets": ov["unseen"],
               "advisories": {s: dict(c) for s, c in ov["severity"].items()},
               "zones": data.zones,
               "matrix": [{"client_zone": c.client_zone, "server_zone": c.server_zone, "bytes": c.bytes,
                           "conversations": c.conversations, "violations": c.violations} for c in data.cells],
               "policy": data.policy, "skipped_records": data.skipped}
    w.write("report.json", msgspec.json.format(msgspec.json.encode(summary), indent=1))


def files_of(res: Written) -> Iterable[Path]:
    return sorted(res.out.rglob("*"))
