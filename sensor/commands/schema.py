"""``sensor schema [NAME]``: the JSON Schemas of what the sensor publishes.

The schemas are generated from the structs in ``sensor.messages`` and shipped
as ``sensor/schemas/*.json``; this prints the shipped files (``--generate`` prints
what the code generates now, which is how the shipped files are made).
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys

NAMES = ("status", "health", "switch", "device", "event", "flows", "register", "policy")


def generate(name: str) -> dict[str, object]:
    from sensor.messages import json_schema

    return json_schema(name)


def render(name: str) -> str:
    return json.dumps(generate(name), indent=2, sort_keys=True) + "\n"


def shipped(name: str) -> str:
    return importlib.resources.files("sensor").joinpath("schemas", f"{name}.json").read_text(encoding="utf-8")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", choices=NAMES,
                        help="one message kind (its whole envelope); default: all of them")
    parser.add_argument("--generate", action="store_true", help="print the schema generated from the code")


def run(args: argparse.Namespace) -> int:
    names = [args.name] if args.name else list(NAMES)
    docs = {n: json.loads(render(n) if args.generate else shipped(n)) for n in names}
    out = docs[names[0]] if len(names) == 1 else docs
    sys.stdout.write(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return 0


def write_shipped() -> None:
    """Regenerate sensor/schemas/*.json (``python -m sensor.commands.schema``)."""
    from pathlib import Path

    base = Path(__file__).resolve().parents[1] / "schemas"
    base.mkdir(exist_ok=True)
    for n in NAMES:
        (base / f"{n}.json").write_text(render(n), encoding="utf-8")


if __name__ == "__main__":
    write_shipped()
