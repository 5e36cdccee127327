"""``sensor advisories check DIR`` and ``sensor advisories match DIR --register FILE``.

``check`` reads every ``*.json`` under DIR as a CSAF 2.0 advisory and lists those it
could not use, each with the reason, on stderr. Exit status: 0 when every document was
read, 1 when some could not be (the others are still used), 2 when DIR is not a
directory or holds no usable document.

``match`` matches each row of an asset register (manufacturer, model, firmware) with
the advisories and prints each match with its confidence, basis, CVEs with CVSS scores
and remediation categories (exit 0; 2 when the register or DIR cannot be read).
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from sensor.evidence.advisories import DeviceFacts, Fact
from sensor.evidence.io import EvidenceFileError, load_advisories, load_register


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    chk = sub.add_parser("check", help="read every CSAF document in DIR and list those that cannot be used")
    chk.add_argument("dir", metavar="DIR", help="a directory of CSAF 2.0 JSON files (searched recursively)")
    chk.add_argument("--json", action="store_true", help="one JSON object: read, unreadable (file, reason), seconds")
    m = sub.add_parser("match", help="match the rows of an asset register with the advisories in DIR")
    m.add_argument("dir", metavar="DIR", help="a directory of CSAF 2.0 JSON files")
    m.add_argument("--register", required=True, metavar="FILE", help="the register's CSV export")
    m.add_argument("--vendor-only", action="store_true", help="also list advisories that name only the vendor")
    m.add_argument("--json", action="store_true", help="one JSON object per register row")


def _check(args: argparse.Namespace) -> int:
    loaded = load_advisories(args.dir)
    if args.json:
        sys.stdout.write(msgspec.json.encode({
            "read": len(loaded.advisories), "unreadable": [{"file": f, "reason": r} for f, r in loaded.unreadable],
            "seconds": round(loaded.seconds, 3)}).decode() + "\n")
    else:
        for f, reason in loaded.unreadable:
            print(f"{f}: {reason}", file=sys.stderr)
        products = sum(len(a.products) for a in loaded.advisories)
        cves = len({v.cve for a in loaded.advisories for v in a.vulnerabilities if v.cve})
        print(f"{args.dir}: {len(loaded.advisories)} advisories read ({products} products, {cves} CVEs), "
              f"{len(loaded.unreadable)} unreadable, in {loaded.seconds:.2f} s")
    if not loaded.advisories:
        if not loaded.unreadable:
            print(f"{args.dir}: no *.json files: give the directory holding the CSAF documents", file=sys.stderr)
        return 2
    return 1 if loaded.unreadable else 0


def _match(args: argparse.Namespace) -> int:
    parsed = load_register(args.register)
    for p in parsed.problems:
        print(p, file=sys.stderr)
    loaded = load_advisories(args.dir)
    for f, reason in loaded.unreadable:
        print(f"{f}: {reason}", file=sys.stderr)
    if not loaded.advisories:
        raise EvidenceFileError(f"{args.dir}: no advisory could be read")
    index = loaded.index()
    enc = msgspec.json.Encoder()
    for row in parsed.rows:
        facts = DeviceFacts(
            vendors=(Fact("register", row.manufacturer),) if row.manufacturer else (),
            models=(Fact("register", row.model),) if row.model else (),
            versions=(Fact("register firmware", row.firmware),) if row.firmware else ())
        matches = [m for m in index.match(facts) if args.vendor_only or m.confidence != "vendor"]
        if args.json:
            sys.stdout.write(enc.encode({"asset_tag": row.asset_tag, "manufacturer": row.manufacturer,
                                         "model": row.model, "firmware": row.firmware,
                                         "matches": matches}).decode() + "\n")
            continue
        print(f"{row.asset_tag}: {row.manufacturer} {row.model} {row.firmware}".rstrip() + f": {len(matches)}")
        for m in matches:
            cves = ", ".join(f"{c.id} ({c.cvss:g})" if c.cvss is not None else c.id for c in m.cves)
            print(f"  {m.advisory} [{m.confidence}] {'; '.join(m.products) or m.title}")
            print(f"    basis: {'; '.join(m.basis)}")
            print(f"    CVEs: {cves or 'none listed'}; remediation: {', '.join(m.remediations) or 'none given'}")
    return 2 if parsed.problems and not parsed.rows else 0


def run(args: argparse.Namespace) -> int:
    return _check(args) if args.action == "check" else _match(args)
