"""``sensor flows decode FILE... [--json]``: decode raw NetFlow/IPFIX datagrams.

Each FILE holds one UDP payload, or is a packet capture (pcap or pcapng, e.g.
``tcpdump -w export.pcap udp port 2055``) whose UDP datagrams are decoded in order,
each filed under its sender as the exporter. Files are decoded in order, as from one
exporter, so templates in an earlier file apply to data in a later one. Records are
printed with IANA IPFIX information-element names: one JSON object per line with
``--json`` (``_file``, ``_version``, ``_domain``, ``_template``, ``_kind`` then the
fields), or one readable line per record with the protocol named. A datagram that
cannot be decoded is reported on stderr with the reason; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

import msgspec

from collectors.flows import Decoder, batch_dicts
from collectors.flows.decode import Batch
from sensor.inputs import InputError, read_limited

MAX_DATAGRAM = 65535  # the largest UDP payload; a bigger file is not one datagram
MAX_CAPTURE = 256 << 20  # a capture of flow exports: minutes of a busy exporter


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    dec = sub.add_parser("decode", help="decode raw datagrams (one per file, in order, as from one exporter)")
    dec.add_argument("files", metavar="FILE", nargs="+",
                     help="a file holding one UDP payload, or a pcap/pcapng capture of the export")
    dec.add_argument("--json", action="store_true", help="print one JSON object per record")
    dec.add_argument("--exporter", default=None,
                     help="the exporter address to file the templates under (default: a capture's sender, "
                          "else 192.0.2.1)")

PROTOCOLS = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 41: "IPv6-in-IPv4", 47: "GRE", 50: "ESP", 51: "AH",
             58: "ICMPv6", 88: "EIGRP", 89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP"}


def protocol(n: object) -> str:
    """``6`` -> ``TCP``; unknown numbers stay numbers."""
    return PROTOCOLS.get(n, f"proto {n}") if isinstance(n, int) else f"proto {n}"


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
    return f"flow {protocol(proto)} {src}:{sport} -> {dst}:{dport} bytes {nbytes} packets {pkts}"


def _starts_like_capture(name: str) -> bool:
    from collectors.flows.pcap import is_capture

    try:
        with open(name, "rb") as fh:
            return is_capture(fh.read(4))
    except OSError:
        return False


def _datagrams(args: argparse.Namespace) -> Iterator[tuple[str, bytes | None, str]]:
    """(name, payload, exporter) for every datagram: one per raw file, every UDP datagram of a capture."""
    from collectors.flows.pcap import PcapError, Skipped, is_capture, udp_datagrams

    default = args.exporter or "192.0.2.1"
    for name in args.files:
        problem = ""
        try:
            data = read_limited(name, MAX_DATAGRAM)
        except InputError as e:
            problem, data = str(e), b""
        if problem and name != "-" and _starts_like_capture(name):
            # Bigger than one datagram: only a capture may be (read from a file, not standard input).
            try:
                data, problem = read_limited(name, MAX_CAPTURE), ""
            except InputError as e:
                problem = str(e)
        if problem:
            print(problem, file=sys.stderr)
            yield name, None, default
            continue
        if not is_capture(data):
            yield name, data, default
            continue
        skipped = Skipped()
        n = 0
        try:
            for n, d in enumerate(udp_datagrams(data, skipped), 1):
                yield f"{name}#{n} {d.src}:{d.sport}->{d.dport}", d.payload, args.exporter or d.src
        except PcapError as e:
            print(f"{name}: {e}", file=sys.stderr)
            yield name, None, default
            continue
        why = ", ".join(f"{v} {k}" for k, v in sorted(skipped.counts.items()))
        print(f"{name}: capture with {n} UDP datagram(s)" + (f"; skipped {why}" if why else ""), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    decoder = Decoder()
    enc = msgspec.json.Encoder()
    status = 0
    out = sys.stdout
    for name, data, exporter in _datagrams(args):
        if data is None:
            status = 1
            continue
        res = decoder.decode(data, exporter)
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
