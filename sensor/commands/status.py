"""``sensor status [-c FILE] [--json]``: how a running (or stopped) sensor is doing.

Read from the state directory (``status.json``, written atomically by the sensor at start,
every health interval and at stop), so it works without talking to the sensor, and also
after it stopped: the last poll of every switch, the hub connection, the outbox depth and
drops, the flow exporters and their rates. Exit status: 0 running and healthy, 1 no status
(the sensor never ran with this state directory), 2 configuration, 3 running but degraded
(a switch failing or degraded, the hub not connected, messages dropped), 4 not running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sensor.commands.common import (
    EXIT_DEGRADED,
    EXIT_FAILED,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    add_config,
    config_path,
    load_or_problems,
)

STATUS_FILE = "status.json"


def configure(parser: argparse.ArgumentParser) -> None:
    add_config(parser)
    parser.add_argument("--json", action="store_true", help="print the status document as JSON")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (systemd's DynamicUser): it exists
        return True
    return True


def _age(when: str | float | None, now: float) -> str:
    """How long ago, from an RFC 3339 string or Unix seconds (the status file's flow window)."""
    if when is None or when == "":
        return "never"
    if isinstance(when, str):
        try:
            t = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return when
    else:
        t = float(when)
    s = max(0, int(now - t))
    return f"{s}s ago" if s < 120 else f"{s // 60}m ago" if s < 7200 else f"{s // 3600}h ago"


def judge(doc: dict[str, Any], now: float) -> tuple[str, list[str]]:
    """("running" | "stopped" | "stale", problems): from the document alone (pure but for the pid check)."""
    problems = []
    state = str(doc.get("state"))
    if state == "running":
        if not _alive(int(doc.get("pid") or 0)):
            state = "stopped"
            problems.append(f"the sensor (pid {doc.get('pid')}) is gone without saying so: it crashed or was killed")
        else:
            try:
                written = datetime.fromisoformat(str(doc["written_at"]).replace("Z", "+00:00")).timestamp()
                if now - written > 3 * float(doc.get("health_interval_s") or 60) + 30:
                    problems.append(f"status.json was last written {_age(doc['written_at'], now)}: the sensor "
                                    "may be hung")
            except (KeyError, ValueError):
                pass
    for name, sw in sorted((doc.get("switches") or {}).items()):
        if sw.get("ok") is False:
            problems.append(f"switch {name}: {sw.get('last_error')}")
        for why in sw.get("degraded") or []:
            problems.append(f"switch {name} degraded: {why}")
    hub = doc.get("hub")
    if hub and state == "running" and hub.get("connected") is False:
        problems.append(f"hub {hub.get('where')} not connected: {hub.get('last_error') or 'connecting'}")
    out = doc.get("outbox") or {}
    if out.get("dropped_total"):
        problems.append(f"{out['dropped_total']} messages dropped from the full outbox "
                        f"(last seq {out.get('last_dropped_seq')})")
    return state, problems


def run(args: argparse.Namespace) -> int:
    cfg = load_or_problems(args, check_files=False)
    if isinstance(cfg, int):
        return cfg
    file = Path(cfg.sensor.state_dir) / STATUS_FILE
    try:
        doc = json.loads(file.read_text())
    except FileNotFoundError:
        print(f"sensor status: no {file}: the sensor has not run with this state directory "
              f"(start it: systemctl start edge-sensor, or sensor run -c {config_path(args)})", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, ValueError) as e:
        print(f"sensor status: {file} cannot be read: {e}", file=sys.stderr)
        return EXIT_FAILED
    now = time.time()
    state, problems = judge(doc, now)
    if args.json:
        sys.stdout.write(json.dumps({**doc, "judged_state": state, "problems": problems}) + "\n")
    else:
        _print(doc, state, problems, now)
    if state != "running":
        return EXIT_NOT_RUNNING
    return EXIT_DEGRADED if problems else EXIT_OK


def _print(doc: dict[str, Any], state: str, problems: list[str], now: float) -> None:
    w = sys.stdout.write
    mark = {"running": "running", "stopped": "STOPPED"}.get(state, state)
    w(f"sensor {doc.get('sensor')} at {doc.get('site')}: {mark} (pid {doc.get('pid')}, version "
      f"{doc.get('version')}, started {_age(doc.get('started_at'), now)}; status written "
      f"{_age(doc.get('written_at'), now)})\n")
    for p in problems:
        w(f"  ! {p}\n")
    w("\nswitches\n")
    for name, sw in sorted((doc.get("switches") or {}).items()):
        if sw.get("ok") is None:
            w(f"  {name:<14} not polled yet\n")
            continue
        rows = sw.get("table_rows") or {}
        counts = ", ".join(f"{v} {k}" for k, v in rows.items())
        methods = "+".join(dict.fromkeys((sw.get("methods") or {}).values())) or sw.get("method", "")
        verdict = "FAILED" if not sw.get("ok") else ("degraded" if sw.get("degraded") else "ok")
        w(f"  {name:<14} {verdict:<9} last success {_age(sw.get('last_success'), now)}, via {methods}, "
          f"{sw.get('duration_s')}s: {counts}\n")
        if not sw.get("ok"):
            w(f"  {'':<14} {sw.get('consecutive_failures')} failures in a row: {sw.get('last_error')}\n")
    hub = doc.get("hub")
    w("\nhub     ")
    if hub is None:
        w("none configured (the local store is the only sink)\n")
    else:
        if doc.get("state") == "stopped":
            # A stopped sensor has closed its connection: "connecting" would be wrong.
            conn = "disconnected when the sensor stopped" + (f" (last error: {hub['last_error']})"
                                                             if hub.get("last_error") else "")
        else:
            conn = "connected" if hub.get("connected") else f"NOT connected ({hub.get('last_error') or 'connecting'})"
        w(f"{hub.get('where')}: {conn}\n")
    out = doc.get("outbox") or {}
    w(f"outbox  {out.get('depth')} waiting (max {out.get('max')}), {out.get('dropped_total')} dropped\n")
    fl = doc.get("flows")
    if fl is None:
        w("flows   not configured\n")
    else:
        lw = fl.get("last_window") or {}
        ex = lw.get("exporters") or {}
        w(f"flows   listening on {', '.join(fl.get('listen') or [])}, window {fl.get('window_s'):g}s\n")
        if not ex:
            now_ex = fl.get("this_window") or {}
            done = (f"last window ({_age(lw['end'], now)}): no flow records from any exporter" if lw.get("end")
                    else "no window finished yet")
            w(f"        {done}" + (f"; this window so far: {len(now_ex)} exporter(s)" if now_ex else "") + "\n")
        for addr, e in ex.items():
            w(f"        {addr:<16} {e.get('records')} records ({e.get('records_per_s')}/s), "
              f"{e.get('datagrams')} datagrams last window\n")
