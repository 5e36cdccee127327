"""``sensor flows decode FILE... [--json]``: decode raw NetFlow/IPFIX datagrams.

Each FILE holds one UDP payload; files are decoded in order, as from one exporter,
so templates in an earlier file apply to data in a later one. Records are printed
with IANA IPFIX information-element names: one JSON object per line with
``--json`` (``_file``, ``_version``, ``_domain``, ``_template``, ``_kind`` then the
fields), or one readable line per record. A datagram that cannot be decoded is
reported on stderr with the reason; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from collectors.flows import Decoder, batch_dicts
from collectors.flows.decode import Batch
from sensor.inputs import InputError, read_limited

MAX_DATAGRAM = 65535  # the largest UDP payload; a bigger file is not one datagram


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    dec = sub.add_parser("decode", help="decode raw datagrams (one per file, in order, as from one exporter)")
    dec.add_argument("files", metavar="FILE", nargs="+", help="a file holding one UDP payload")
    dec.add_argument("--json", action="store_true", help="print one JSON object per record")
    dec.add_argument("--exporter", default="192.0.2.1", help="the exporter address to file the templates under")


def _line(kind: str, rec: dict[str, object]) -> str:
    if kind == "options":
        return "options " + " ".join(f"{k}={v}" for k, v in rec.items())
    src = rec.get("sourceIPv4Address", rec.get("sourceIPv6Address", "?"))
    dst = rec.get("destinationIPv4Address", rec.get("destinationIPv6Address", "?"))
    sport = rec.get("sourceTransportPort", "")
    dport = rec.get("destinationTransportPort", "")
    proto = rec.get("protocolIdentifier", "?")
    nbytes = rec.get("octetDeltaCount", rec.get("octetTotalCount", "?"))
    pkts = rec.get("packetDeltaCount", rec.get("packetTotalCount", "?"))
    return f"flow {src}:{sport} -> {dst}:{dport} proto {proto} bytes {nbytes} packets {pkts}"


def run(args: argparse.Namespace) -> int:
    decoder = Decoder()
    enc = msgspec.json.Encoder()
    status = 0
    out = sys.stdout
    for name in args.files:
        try:
            data = read_limited(name, MAX_DATAGRAM)
        except InputError as e:
            print(f"{e}", file=sys.stderr)
            status = 1
            continue
        res = decoder.decode(data, args.exporter)
        if res.error is not None:
            print(f"{name}: rejected: {res.error}", file=sys.stderr)
            status = 1
        groups: list[tuple[str, Batch]] = [("data", b) for b in res.batches] + [("options", b) for b in res.options]
        for kind, batch in groups:
            for rec in batch_dicts(batch):
                if args.json:
                    head = {"_file": name, "_version": batch.version, "_domain": batch.domain,
                            "_template": batch.template.tid, "_kind": kind}
                    if batch.rate != 1:
                        head["_sampling_rate"] = batch.rate
                        head["_sampling_from"] = batch.rate_from
                    out.write(enc.encode({**head, **rec}).decode() + "\n")
                else:
                    out.write(f"{name}: v{batch.version} template {batch.template.tid}: {_line(kind, rec)}\n")
        if not args.json:
            print(f"{name}: {res.records} records, {sum(b.count for b in res.options)} options records, "
                  f"{res.templates} templates", file=sys.stderr)
    skipped = decoder.stats["unknown_template_sets"]
    if skipped:
        print(f"{skipped} data sets skipped: their template was not (yet) seen; give the file with the "
              f"template first", file=sys.stderr)
    return status
