"""The ``sensor`` command.

Subcommands are registered explicitly below and imported only when used, so that
``sensor --help`` answers without loading SNMP, MQTT or table libraries.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from sensor import __version__

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "check-config": ("sensor.commands.check_config", "validate a configuration file and summarise it"),
    "run": ("sensor.commands.run", "run the sensor (the systemd service runs this)"),
    "inventory": ("sensor.commands.inventory", "list the devices in the local store"),
    "poll": ("sensor.commands.poll", "poll one switch now and print what it knows"),
    "schema": ("sensor.commands.schema", "print the JSON Schemas of the published device records and events"),
    "parse": ("sensor.commands.parse", "map a saved command output or NETCONF reply to facts"),
    "flows": ("sensor.commands.flows", "decode raw NetFlow/IPFIX datagrams (sensor flows decode FILE...)"),
    "lookup": ("sensor.commands.lookup", "a MAC's registry block and maker, and the class the rules give it"),
    "register": ("sensor.commands.register", "check an asset register export, or reconcile it with the devices seen"),
    "advisories": ("sensor.commands.advisories", "read CSAF advisories (check DIR) or match a register with them"),
    "report": ("sensor.commands.report", "static HTML report: port maps, zone matrix, evidence pages"),
    "watch": ("sensor.commands.watch", "subscribe to a hub as a hub should; validate, check seq, print"),
    "policy": ("sensor.commands.policy", "segmentation policy: matrix, propose, diff, simulate, export"),
    "status": ("sensor.commands.status", "how the running (or last) sensor is doing, from its state directory"),
}


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="sensor",
        description="edge-sensor: a touch-free inventory of connected medical devices, "
        "built from what the switches know.",
        epilog="Every command that reads the configuration takes -c/--config FILE (default: "
        "$EDGE_SENSOR_CONFIG, then /etc/edge-sensor/sensor.toml). Exit codes: 0 done, 1 failed, "
        "2 usage or configuration, 3 worked but degraded, 4 (status) not running.",
    )
    parser.add_argument("--version", action="version", version=f"edge-sensor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {name: sub.add_parser(name, help=help_, description=help_) for name, (_, help_) in COMMANDS.items()}
    return parser, subparsers


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sensor`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, subparsers = _parser()
    # Only the chosen command's module is imported (and only it adds its arguments).
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    module = None
    if chosen in COMMANDS:
        module = importlib.import_module(COMMANDS[chosen][0])
        module.configure(subparsers[chosen])
    args = parser.parse_args(args_list)
    if args.command is None or module is None:
        parser.print_help()
        return 2
    from sensor.errors import SensorError

    try:
        code: int = module.run(args)
        sys.stdout.flush()
    except SensorError as e:
        print(f"sensor {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Piped into `head`: the reader has what it wanted. Point stdout at /dev/null so the
        # interpreter's own flush at exit does not fail again; exit as a shell would on SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
