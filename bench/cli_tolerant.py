#!/usr/bin/env python3
"""Measure: rows recovered from the CLI outputs of tests/cli/outputs by ntc-templates alone
and with the tolerant fallback (issue 13, section 4).

For each output (platform and command from tests/cli/test_cli_variants.py) it counts the
station MAC rows, ARP rows and neighbours that ntc-templates' records give through the same
mapping, and what `sensor parse` gives; an output counts as recovered when it yields at least
one row. Prints a table and the totals; never fails.

    .venv/bin/python bench/cli_tolerant.py [--verbose]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.cli.names import Ports
from collectors.cli.parse import MAPPERS, ParseError, command_table, parse, textfsm_records
from collectors.tables import Tables
from tests.cli.test_cli_variants import CASES, OUT


def rows(t: Tables, kind: str) -> int:
    if kind == "fdb":
        return len([f for f in t.fdb or [] if f.status != "self"])
    return len(getattr(t, kind) or [])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    total = {"ntc": 0, "all": 0, "ntc_out": 0, "all_out": 0}
    platforms: set[str] = set()
    for c in CASES:
        file, platform, command = c.values[:3]
        platforms.add(platform)
        text = (OUT / f"{file}.txt").read_text()
        kind = command_table(command)
        ntc = Tables(switch="s", ports=Ports(platform))
        with contextlib.suppress(ParseError):
            MAPPERS[kind](textfsm_records(platform, command, text), ntc)
        try:
            full = parse(platform, command, text)
        except ParseError:
            full = Tables(switch="s", ports=Ports(platform))
        a, b = rows(ntc, kind), rows(full, kind)
        total["ntc"] += a
        total["all"] += b
        total["ntc_out"] += a > 0
        total["all_out"] += b > 0
        if args.verbose or a != b:
            print(f"{file:55s} {kind:4s} ntc-templates {a:2d}  with fallback {b:2d}")
    n = len(CASES)
    print(f"\n{n} outputs of {len(platforms)} platforms")
    print(f"rows:    ntc-templates alone {total['ntc']}, with the tolerant fallback {total['all']}")
    print(f"outputs with rows: ntc-templates alone {total['ntc_out']} of {n}, "
          f"with the fallback {total['all_out']} of {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
