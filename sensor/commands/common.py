"""What every command shares: the configuration option, exit codes, colour and tables.

Exit codes are the same for every command (documented in the README, "Watching it run"):

====  ==========================================================================
0     done, nothing wrong
1     failed (a switch did not answer, the hub did not acknowledge, a file unreadable)
2     usage or configuration problem (nothing was tried)
3     worked, but degraded: a method or a table failed and another answered, or a
      configured uplink is not on the switch (``poll``, ``run --once``, ``status``)
4     ``status`` only: the sensor is not running
====  ==========================================================================
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from sensor.config import Config
    from sensor.errors import ConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DEGRADED = 3
EXIT_NOT_RUNNING = 4

DEFAULT_CONFIG = "/etc/edge-sensor/sensor.toml"
CONFIG_ENV = "EDGE_SENSOR_CONFIG"


def default_config() -> str:
    return os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG


def add_config(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """``-c/--config FILE``, the same for every command: default $EDGE_SENSOR_CONFIG, then /etc."""
    if optional:
        parser.add_argument("--config", "-c", metavar="FILE", default=None,
                            help=f"the sensor's TOML configuration (optional; ${CONFIG_ENV} when set)")
        return
    parser.add_argument("--config", "-c", metavar="FILE", default=None,
                        help=f"the sensor's TOML configuration (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG})")


def config_path(args: argparse.Namespace, *, optional: bool = False) -> str | None:
    """The configuration the user meant: -c, then the environment, then the default (not for optional)."""
    given: str | None = getattr(args, "config", None)
    if given:
        return given
    if optional:
        return os.environ.get(CONFIG_ENV) or None
    return default_config()


def config_problems(e: ConfigError, path: str | None = None) -> int:
    """Print a configuration's problems to stderr, one a line (with ``path``: and how many, in which
    file); the exit code to return: nothing was tried."""
    for problem in e.problems:
        print(problem, file=sys.stderr)
    if path is not None:
        n = len(e.problems)
        print(f"{n} problem{'s' if n != 1 else ''} found in {path}", file=sys.stderr)
    return EXIT_USAGE


def load_or_problems(args: argparse.Namespace, *, check_files: bool = True) -> Config | int:
    """The configuration ``-c`` names (``config_path``), or the exit code after printing its problems."""
    from sensor.config import load_config
    from sensor.errors import ConfigError

    try:
        return load_config(config_path(args) or "", check_files=check_files)
    except ConfigError as e:
        return config_problems(e)


# --------------------------------------------------------------- terminal
def colour_enabled(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def width() -> int:
    """The terminal's width: $COLUMNS, else the terminal, else 80."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    return shutil.get_terminal_size((80, 24)).columns


RISK_COLOURS = {"critical": "\033[1;31m", "high": "\033[31m", "medium": "\033[33m", "low": "\033[32m"}
RESET = "\033[0m"


def risk_style(level: str, on: bool) -> str:
    """The ANSI code for a risk level, or "" without a terminal."""
    return RISK_COLOURS.get(level, "") if on else ""


# --------------------------------------------------------------- tables
@dataclass(frozen=True)
class Column:
    """One column. ``keep``: lower gives way first when the table is too wide (0 never does);
    ``cut``: may be shortened with an ellipsis (never a MAC or an address)."""

    key: str
    title: str
    keep: int = 5
    cut: bool = False
    min_width: int = 8
    right: bool = False


def _len(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _cut(s: str, n: int) -> str:
    if _len(s) <= n:
        return s
    return s[: max(0, n - 1)] + "…"


def render(columns: Sequence[Column], rows: Sequence[Mapping[str, str]], max_width: int | None,
           *, styles: Sequence[Mapping[str, str]] | None = None) -> tuple[list[str], list[str]]:
    """Plain-text table lines (header first) that fit ``max_width`` (None: no limit).

    Columns give way by ``keep``, lowest first; then cuttable columns are shortened; a column
    that may not be cut is never cut (the line is then wider than asked). ``styles`` (one per
    row): column key -> ANSI code wrapped around that cell. Returns the lines and the titles of
    the columns left out.
    """
    cols = list(columns)
    widths = {c.key: max([_len(c.title), *(_len(r.get(c.key, "")) for r in rows)]) for c in cols}
    # An empty column says nothing: leave it out whatever the width.
    cols = [c for c in cols if c.keep == 0 or any(r.get(c.key, "") for r in rows)] if rows else cols
    dropped: list[str] = [c.title for c in columns if c not in cols]

    def total(cs: list[Column]) -> int:
        return sum(widths[c.key] for c in cs) + 2 * (len(cs) - 1)

    if max_width is not None:
        while total(cols) > max_width:
            droppable = [c for c in cols if c.keep > 0]
            # Shorten cuttable columns before dropping a more important one.
            over = total(cols) - max_width
            cuttable = [c for c in cols if c.cut and widths[c.key] > c.min_width]
            room = sum(widths[c.key] - c.min_width for c in cuttable)
            if cuttable and room >= over and (not droppable or min(d.keep for d in droppable) >= 3):
                for c in sorted(cuttable, key=lambda c: -widths[c.key]):
                    take = min(over, widths[c.key] - c.min_width)
                    widths[c.key] -= take
                    over -= take
                    if over <= 0:
                        break
                break
            if not droppable:
                for c in cuttable:
                    take = min(over, widths[c.key] - c.min_width)
                    widths[c.key] -= take
                    over -= take
                break
            victim = min(droppable, key=lambda c: (c.keep, -cols.index(c)))
            cols.remove(victim)
            dropped.append(victim.title)

    def line(cells: Mapping[str, str], style: Mapping[str, str] | None = None) -> str:
        out = []
        for i, c in enumerate(cols):
            w = widths[c.key]
            text = cells.get(c.key, "")
            text = _cut(text, w) if c.cut else text
            pad = " " * max(0, w - _len(text))
            last = i == len(cols) - 1
            shown = f"{style[c.key]}{text}{RESET}" if style and style.get(c.key) else text
            out.append(pad + shown if c.right else (shown if last else shown + pad))
        return "  ".join(out).rstrip()

    lines = [line({c.key: c.title for c in cols})]
    for i, r in enumerate(rows):
        lines.append(line(r, styles[i] if styles else None))
    return lines, dropped


def wrap_items(head: str, items: Sequence[str], max_width: int | None, indent: int = 4) -> list[str]:
    """``head`` then the items joined by ", ", broken between items (never inside one) to fit."""
    lines = [head]
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if max_width is not None and len(lines[-1]) + 1 + len(piece) > max_width and lines[-1].strip():
            lines.append(" " * indent + piece)
        else:
            lines[-1] += ("" if lines[-1].endswith(" ") or not lines[-1] else " ") + piece
    return lines


def wrap_words(text: str, max_width: int | None, indent: int = 4) -> list[str]:
    """A sentence broken between words to fit, continuation lines indented."""
    if max_width is None or len(text) <= max_width:
        return [text]
    import textwrap

    return textwrap.wrap(text, width=max_width, subsequent_indent=" " * indent, break_long_words=False,
                         break_on_hyphens=False)


def speed(mbits: int | None) -> str:
    """``1000`` -> ``1G``, ``100`` -> ``100M``, ``25000`` -> ``25G``."""
    if not mbits:
        return ""
    if mbits >= 1000 and mbits % 1000 == 0:
        return f"{mbits // 1000}G"
    if mbits >= 1000:
        return f"{mbits / 1000:g}G"
    return f"{mbits}M"


# IANAifType-MIB: the names an engineer sees on the switch.
IF_TYPES = {
    1: "other", 6: "ethernet", 22: "propPointToPoint", 23: "ppp", 24: "loopback", 53: "propVirtual",
    62: "fastEther", 69: "fastEtherFX", 71: "wifi", 117: "gigabitEthernet", 131: "tunnel", 135: "l2vlan",
    136: "l3ipvlan", 142: "ipForward", 150: "mplsTunnel", 161: "lag", 166: "mpls", 209: "bridge",
    244: "wwanPP", 247: "ilan",
}


def if_type(n: int | None) -> str:
    if n is None:
        return ""
    return IF_TYPES.get(n, f"type {n}")
