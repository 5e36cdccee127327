"""``sensor lookup MAC... [--json]``: what the registry and the rules say about a MAC alone.

The first thing to run on a MAC seen on a port: its IEEE registry block (MA-L /24,
MA-M /28 or MA-S /36) and organisation, and the class, medical flag, criticality and
reasons the classification rules give from the MAC alone (no LLDP, no flows). With
``--config`` the sensor's own rules file and overrides apply, as in a poll.
``--json`` prints one JSON array, an object per MAC with keys ``mac``, ``block``,
``block_type``, ``organisation``, ``locally_administered``, ``class``, ``label``,
``medical``, ``criticality``, ``confidence``, ``function``, ``note`` and ``reasons``.
Exit status: 0 looked up (also when a MAC is in no block), 1 the registry or the
configuration cannot be read, 2 a MAC is not a MAC (nothing is printed then).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from sensor.classify.classifier import Classifier
    from sensor.classify.oui import OuiRegistry

_BLOCK_TYPES = {24: "MA-L", 28: "MA-M", 36: "MA-S"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("macs", metavar="MAC", nargs="+",
                        help="MAC addresses, as 00:09:fb:12:34:56, 00-09-FB-12-34-56, 0009.fb12.3456 or 0009fb123456")
    parser.add_argument("--json", action="store_true", help="print one JSON array instead of text")
    parser.add_argument("--config", "-c", metavar="FILE",
                        help="the sensor's configuration: apply its [classification] rules file and overrides "
                             "($EDGE_SENSOR_CONFIG when set)")


def run(args: argparse.Namespace) -> int:
    from sensor.correlate.macs import normalize_mac

    macs: list[str] = []
    bad: list[str] = []
    for text in args.macs:
        mac = normalize_mac(text)
        if mac is None:
            bad.append(text)
        else:
            macs.append(mac)
    if bad:
        for text in bad:
            print(f"sensor lookup: {text!r} is not a MAC address: give 12 hex digits, e.g. 00:09:fb:12:34:56, "
                  "00-09-FB-12-34-56 or 0009.fb12.3456", file=sys.stderr)
        return 2
    from sensor.classify.classifier import Classifier
    from sensor.classify.oui import registry
    from sensor.commands.common import config_path

    args.config = config_path(args, optional=True)
    if args.config:
        from sensor.config import load_config
        from sensor.correlate.engine import classifier_from

        classifier = classifier_from(load_config(args.config, check_files=False))
    else:
        from sensor.classify.rules import load_rules

        classifier = Classifier(load_rules())
    try:
        reg = registry()
    except FileNotFoundError as e:
        print(f"sensor lookup: {e}", file=sys.stderr)
        return 1
    docs = [lookup(mac, reg, classifier) for mac in macs]
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(docs) + b"\n")
        sys.stdout.flush()
    else:
        print("\n\n".join(_text(d) for d in docs))
    return 0


def lookup(mac: str, reg: OuiRegistry, classifier: Classifier) -> dict[str, Any]:
    """One MAC (normalised) as the ``--json`` object: its block, its organisation and the rules' decision."""
    from sensor.correlate.macs import is_locally_administered, not_a_device

    vendor = reg.lookup(mac)
    d = classifier.classify(mac, vendor)
    c = d.classification
    cd = classifier.rules.classes.get(c.device_class)
    crit = cd.criticality if cd is not None else None
    if c.device_class == "unknown" and c.medical:
        from sensor.classify.risk import UNKNOWN_MEDICAL_CRITICALITY

        crit = UNKNOWN_MEDICAL_CRITICALITY
    block_type = None
    if vendor is not None:
        _, _, bits = vendor.block.partition("/")
        block_type = _BLOCK_TYPES.get(int(bits) if bits else 24)
    notes = [n for n in (d.vendor_note, not_a_device(mac)) if n]
    la = is_locally_administered(mac)
    if la:
        notes.append("locally administered (randomised or virtual): the registry does not name its maker")
    return {
        "mac": mac, "block": vendor.block if vendor else None, "block_type": block_type,
        "organisation": vendor.name if vendor else None, "locally_administered": la,
        "class": c.device_class, "label": c.label, "medical": c.medical, "criticality": crit,
        "confidence": c.confidence, "function": c.clinical_function, "note": "; ".join(notes) or None,
        "reasons": list(c.reasons),
    }


def _text(d: dict[str, Any]) -> str:
    if d["block"] is None:
        block = "none: not in the IEEE registry"
    else:
        block = f"{d['block']} ({d['block_type']})" if d["block_type"] else d["block"]
    cls = f"{d['class']} ({d['label']})"
    if d["class"] != "unknown":
        cls += f", confidence {d['confidence']:.2f}"
    lines = [
        d["mac"],
        f"  block         {block}",
        f"  organisation  {d['organisation'] or '-'}",
        f"  class         {cls}",
        f"  medical       {'yes' if d['medical'] else 'no'}"
        + (f", criticality {d['criticality']}/5" if d["criticality"] is not None else ""),
    ]
    if d["function"]:
        lines.append(f"  function      {d['function']}")
    if d["note"]:
        lines.append(f"  note          {d['note']}")
    for i, r in enumerate(d["reasons"]):
        lines.append(f"  {'reasons' if i == 0 else '':<12}  {r}")
    return "\n".join(lines)
