"""``sensor check-config [-c FILE | FILE]``: every problem with its line, or a short summary."""

from __future__ import annotations

import argparse
import sys

from sensor.commands.common import add_config, config_path, config_problems
from sensor.config import Config, load_config, summary_lines
from sensor.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    add_config(parser)
    parser.add_argument("file", metavar="FILE", nargs="?", help="the same as --config FILE")


def run(args: argparse.Namespace) -> int:
    if args.file and args.config and args.file != args.config:
        print("sensor check-config: give the configuration once (FILE or --config)", file=sys.stderr)
        return 2
    args.file = args.file or config_path(args)
    try:
        cfg = load_config(args.file)
        # The classification rules (shipped, plus classification.rules_file) are part of the config.
        from sensor.correlate.engine import classifier_from

        classifier_from(cfg)
        # The approved segmentation policy is checked like the configuration: file, line, key.
        if cfg.policy.file:
            from sensor.policy.document import load_policy

            load_policy(cfg.policy.file)
    except ConfigError as e:
        return config_problems(e, args.file)
    for line in summary_lines(cfg):
        print(line)
    for hint in _policy_hints(cfg, args.file):
        print(f"note: {hint}")
    print(f"{args.file}: OK")
    return 0


def _policy_hints(cfg: Config, filename: str) -> list[str]:
    from pathlib import Path

    from sensor.config import LineIndex
    from sensor.policy.zones import migration_hints

    try:
        index = LineIndex(Path(filename).read_text(encoding="utf-8"))
    except OSError:
        return []
    lines = {k: index.line_of(("policy", k)) for k in ("workstation_classes", "expected_vlans")}
    return migration_hints(cfg.policy, filename, lines)
