#!/usr/bin/env python3
"""Decoding cost per varbind: collectors/snmp/ber.py against pyasn1 (pysnmp's receive path).

    .venv/bin/python bench/snmp_decode.py [--messages N]

Decodes the same generated v1/v2c responses (tests/snmp/test_ber.py's generator, valid ones
only) with both and prints CPU µs per varbind and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.snmp import ber
from tests.snmp.test_ber import Gen, reference


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    a = ap.parse_args()
    gen = Gen(1)
    msgs = []
    while len(msgs) < a.messages:
        data, intended = gen.message()
        if intended is not None:
            msgs.append(data)
    n = sum(len(ber.decode_response(m).varbinds) for m in msgs)
    t0 = time.process_time()
    for m in msgs:
        ber.decode_response(m)
    t1 = time.process_time()
    for m in msgs:
        reference(m)
    t2 = time.process_time()
    ours, theirs = 1e6 * (t1 - t0) / n, 1e6 * (t2 - t1) / n
    print(f"{len(msgs)} messages, {n} varbinds")
    print(f"ber.py  {ours:8.2f} µs CPU per varbind")
    print(f"pyasn1  {theirs:8.2f} µs CPU per varbind  ({theirs / ours:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
