"""Helpers for the corpus tests: run `sensor parse --json` in-process and normalise both sides."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
CLI = CORPUS / "cli"
NETCONF = CORPUS / "netconf"


def sensor_parse(platform: str, command: str | list[str], path: Path | list[Path]) -> dict[str, Any]:
    """`sensor parse --platform P --command C FILE --json`, exactly as a user runs it."""
    commands = command if isinstance(command, list) else [command]
    paths = path if isinstance(path, list) else [path]
    from sensor.cli import main

    buf = io.BytesIO()
    out = io.TextIOWrapper(buf, encoding="utf-8")
    old = sys.stdout
    sys.stdout = out
    try:
        argv = ["parse", "--platform", platform, "--json"]
        for c in commands:
            argv += ["--command", c]
        code = main(argv + [str(p) for p in paths])
        out.flush()
    finally:
        sys.stdout = old
    assert code == 0, f"sensor parse exited {code} for {platform} {commands!r} {paths}"
    doc: dict[str, Any] = json.loads(buf.getvalue())
    return doc


def command_of(filename: str) -> str:
    """NAPALM's mock file names: show_arp___exclude_Incomplete.txt = "show arp | exclude Incomplete"."""
    stem = filename.rsplit(".", 1)[0].lstrip("_")
    cmd = re.sub(r"_+", " ", stem.replace("___", " | ")).strip()
    return cmd.replace("mac address table", "mac address-table")


def mac(text: str) -> str:
    digits = re.sub(r"[^0-9a-fA-F]", "", text).lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2)) if len(digits) == 12 else text.lower()


def port_name(doc: dict[str, Any], key: int | None) -> str | None:
    return None if key is None else doc["ports"].get(str(key))
