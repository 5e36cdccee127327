"""Hypothesis fuzzing: mutated corpus datagrams, random bytes, random templates.

About 100,000 cases in all (see EXAMPLES). Each case checks that nothing escapes
(decode, the lazy record paths, aggregation and rendering), that the decoder
counted no internal error, and that one datagram takes bounded time.
"""

from __future__ import annotations

import gc
import os
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.flows import Decoder, FlowTable, batch_dicts, flow_records
from tests.flows.build import data_set, ipfix, ipfix_template_record, ipfix_template_set, v9, v9_template_set
from tests.flows.conftest import CORPUS

# Total across the four tests: 25k + 30k + 25k + 20k = 100k (FLOW_FUZZ_SCALE scales it).
SCALE = float(os.environ.get("FLOW_FUZZ_SCALE", "1"))
EXAMPLES = {k: max(10, int(v * SCALE)) for k, v in
            {"mutate": 25_000, "random": 30_000, "templates": 25_000, "ipfix_sets": 20_000}.items()}
MAX_SECONDS = 1.0  # CPU seconds per datagram, GC off: generous for a shared CI machine; typical < 0.001

def fuzz(kind: str) -> settings:
    return settings(max_examples=EXAMPLES[kind], deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def _load() -> list[tuple[list[bytes], bytes]]:
    """(prerequisite datagrams, datagram) pairs from the corpus."""
    if not CORPUS.is_dir():
        return []
    b = CORPUS / "bitkeks_python-netflow"
    g = CORPUS / "goflow2"
    t = CORPUS / "telegraf"
    rd = Path.read_bytes
    pairs = [
        ([], rd(b / "v5_softflowd_3flows.bin")),
        ([], rd(g / "v5_goflow2_test.bin")),
        ([], rd(b / "v9_softflowd_tpl1024_2048_8flows.bin")),
        ([rd(b / "v9_softflowd_tpl1024_2048_8flows.bin")], rd(b / "v9_softflowd_data_12flows_1.bin")),
        ([], rd(b / "ipfix_softflowd_4tpl_1opttpl_20rec.bin")),
        ([], rd(b / "ipfix_softflowd_ether_tpl_data.bin")),
        ([], rd(b / "ipfix_softflowd_set_padding.bin")),
        ([rd(g / "v9_cisco_tpl260_23fields.bin")], rd(g / "v9_cisco_data260_21rec.bin")),
        ([], rd(t / "netflow_v9_options/message.bin")),
        ([], rd(t / "ipfix_options/message-001.bin")),
        ([rd(t / "issue_13305/message-1.bin"), rd(t / "issue_13305/message-2.bin")],
         rd(t / "issue_13305/message-3.bin")),
        ([], rd(CORPUS / "derived/ipfix_set_length_zero_from_pmacct100_udp00.bin")),
    ]
    return pairs


PAIRS = _load()
needs_corpus = pytest.mark.skipif(not PAIRS, reason=f"flow corpus not found at {CORPUS}")


def exercise(d: Decoder, data: bytes) -> None:
    """Decode and aggregate (timed), then render (the slow paths, untimed but must not raise)."""
    gc.disable()
    try:
        t0 = time.thread_time()
        res = d.decode(data, "192.0.2.1")
        table = FlowTable(max_keys=1000)
        for b in res.batches:
            table.add(b)
        elapsed = time.thread_time() - t0
    finally:
        gc.enable()
    assert d.stats["decode_errors.internal"] == 0, res.error
    assert elapsed < MAX_SECONDS, f"{elapsed:.3f}s for {len(data)} bytes"
    for b in res.batches[:2]:
        flow_records(b)
        batch_dicts(b)
    for b in res.options[:2]:
        batch_dicts(b)


# Each case is one draw of bytes, interpreted deterministically (one draw is much
# cheaper for hypothesis than many small ones, so 100,000 cases fit in CI time).
MUTATION_VALUES = [0, 1, 3, 4, 255, 256, 0x7FFF, 0x8000, 0xFFFF]


def mutate(base: bytes, spec: bytes) -> bytes:
    buf = bytearray(base)
    for i in range(0, len(spec) - 3, 4):
        op, hi, lo, val = spec[i:i + 4]
        pos = ((hi << 8) | lo) % max(1, len(buf))
        kind = op % 8
        if kind <= 3 and buf:
            buf[pos] = val
        elif kind == 4 and len(buf) >= 2:  # 16-bit fields: lengths, ids, counts
            struct.pack_into("!H", buf, min(pos, len(buf) - 2), MUTATION_VALUES[val % len(MUTATION_VALUES)])
        elif kind == 5:
            del buf[pos:]
        elif kind == 6:
            buf[pos:pos] = spec[i:i + (val % 16)]
        else:
            del buf[pos:pos + (val % 16)]
    return bytes(buf)


@needs_corpus
@fuzz("mutate")
@given(st.binary(min_size=1, max_size=40))
def test_mutated_corpus(spec: bytes) -> None:
    pre, base = PAIRS[spec[0] % len(PAIRS)]
    d = Decoder()
    for p in pre:
        d.decode(p, "192.0.2.1")
    exercise(d, mutate(base, spec[1:]))


@fuzz("random")
@given(st.binary(max_size=1500))
def test_random_bytes(raw: bytes) -> None:
    version = (5, 9, 10, 1)[raw[0] % 4] if raw else 0xFFFF
    exercise(Decoder(), struct.pack("!H", version) + raw[1:])


IES = [1, 2, 4, 7, 8, 11, 12, 21, 22, 27, 28, 48, 56, 58, 80, 96, 152, 160, 243, 34, 305, 306, 0, 0x7FFF]
LENGTHS = [1, 2, 3, 4, 5, 6, 8, 16, 0xFFFF, 0, 17]


@fuzz("templates")
@given(st.binary(min_size=2, max_size=300))
def test_random_templates(raw: bytes) -> None:
    flags, n = raw[0], raw[1] % 25
    spec, payload = raw[2:2 + 2 * n], raw[2 + 2 * n:]
    fields = [(IES[a % len(IES)], LENGTHS[b % len(LENGTHS)]) for a, b in zip(spec[::2], spec[1::2], strict=False)]
    options = bool(flags & 2) and bool(fields)
    if flags & 1:
        dgram = v9(1, v9_template_set(300, fields), data_set(300, payload))
    else:
        tpl = ipfix_template_record(300, fields, scope=1 if options else 0)
        dgram = ipfix(1, ipfix_template_set(tpl, options=options), data_set(300, payload))
    exercise(Decoder(), dgram)


SET_IDS = [0, 1, 2, 3, 4, 255, 256, 300, 65535]


@fuzz("ipfix_sets")
@given(st.binary(min_size=2, max_size=400))
def test_random_ipfix_sets(raw: bytes) -> None:
    body, pos = b"", 2
    while pos < len(raw):
        sid, n = SET_IDS[raw[pos] % len(SET_IDS)], raw[pos + 1] % 64 if pos + 1 < len(raw) else 0
        chunk = raw[pos + 2:pos + 2 + n]
        body += struct.pack("!HH", sid, len(chunk) + 4) + chunk
        pos += 2 + n
    d = Decoder()
    exercise(d, ipfix(1, body))
    exercise(d, struct.pack("!HHIII", 10, (raw[0] << 8 | raw[1]) % 2048, 0, 0, 1) + body)
