"""``sensor report [-c FILE] --out DIR``: the static report for the people who own the risk."""

from __future__ import annotations

import argparse
import sys

from sensor.commands.common import add_config, load_or_problems


def configure(parser: argparse.ArgumentParser) -> None:
    add_config(parser)
    parser.add_argument("--out", "-o", required=True, metavar="DIR",
                        help="the folder to write (index.html, switches/, devices/, devices.csv, devices.json)")


def run(args: argparse.Namespace) -> int:
    from sensor.report.data import load
    from sensor.report.render import write_report

    cfg = load_or_problems(args, check_files=False)
    if isinstance(cfg, int):
        return cfg
    data = load(cfg)
    try:
        res = write_report(data, args.out)
    except OSError as e:
        print(f"sensor report: cannot write {args.out}: {e.strerror or e}: choose a folder you can write",
              file=sys.stderr)
        return 2
    if not data.devices:
        print(f"sensor report: no devices in the local store ({cfg.sensor.state_dir}): run the sensor first; "
              f"the report is empty", file=sys.stderr)
    print(f"report written to {res.out / 'index.html'}: {len(data.devices)} device(s), {res.pages} page(s), "
          f"largest {res.largest[0]} ({res.largest[1]} bytes), {res.seconds:.2f} s")
    return 0
