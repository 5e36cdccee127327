"""collectors/snmp/ber.py against pyasn1, the decoder pysnmp uses and ours replaces.

The reference is pysnmp's own receive path for v1/v2c: the version read by
``verdec.decode_message_version``, then pyasn1 decoding with that version's ``Message``
schema, then the PDU type. Every generated message must either decode to the same
values in both, or be refused by both (ours with BerError). The one allowed difference:
ours may refuse a message pyasn1 accepts only if that message is not pyasn1's own
encoding of what it decoded (ours refuses indefinite lengths and segmented strings).

100,000 messages: hypothesis draws seeds for a fast generator of batches (a hypothesis
strategy per message would take minutes), plus a shrinking strategy-level test of
single varbinds at the edges of every value range.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from collectors.snmp import ber
from collectors.snmp.client import to_python

BATCHES = 100
BATCH = 1_000
REFUSED = "refused"
NOT_A_RESPONSE = "not a response"


_MESSAGES = {0: api.v1.Message(), 1: api.v2c.Message()}


def _simple_version(data: bytes) -> int | None:
    """The version when it is encoded the plain way (02 01 0v after the SEQUENCE header), else None."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    i = 2 + (data[1] & 0x7F if data[1] & 0x80 else 0)
    return data[i + 2] if data[i:i + 2] == b"\x02\x01" and data[i + 2:i + 3] in (b"\x00", b"\x01") else None


def reference(data: bytes) -> Any:
    """What pysnmp's receive path makes of ``data``: the decoded response, or why it drops it."""
    version = _simple_version(data)
    if version is not None:
        # One decode instead of pysnmp's two: verdec would read this same version, and it
        # refuses trailing bytes, so the outcome is the same.
        try:
            msg, rest = decoder.decode(data, asn1Spec=_MESSAGES[version])
        except Exception:
            return REFUSED
        if rest:
            return REFUSED
    else:
        try:
            version = int(api.verdec.decode_message_version(data))
        except Exception:
            return REFUSED
        if version not in (0, 1):
            return REFUSED
        try:
            msg, _ = decoder.decode(data, asn1Spec=api.PROTOCOL_MODULES[version].Message())
        except Exception:
            return REFUSED
    p = api.PROTOCOL_MODULES[version]
    pdu = p.apiMessage.get_pdu(msg)
    t = pdu.tagSet[0]
    ptype = t.tagClass | t.tagFormat | t.tagId
    if ptype not in (ber.RESPONSE, ber.REPORT) or (version == 0 and ptype == ber.REPORT):
        return NOT_A_RESPONSE
    vbs = []
    for name, value in p.apiPDU.get_varbinds(pdu):
        vt = value.tagSet[0]
        vbs.append((tuple(name), vt.tagClass | vt.tagFormat | vt.tagId, to_python(value)))
    return ber.Response(version, bytes(msg[1]), ptype, int(pdu[0]), int(pdu[1]), int(pdu[2]), vbs), msg


def ours(data: bytes) -> Any:
    try:
        return ber.decode_response(data)
    except ber.BerError as e:
        assert str(e).startswith(("malformed SNMP message", "SNMP message")), str(e)
        return REFUSED


def check(data: bytes, intended: ber.Response | None = None) -> str:
    """Compare both decoders on ``data``; returns which way it went."""
    want, got = reference(data), ours(data)
    if want in (REFUSED, NOT_A_RESPONSE):
        assert got == REFUSED, f"pyasn1 {want}, ours decoded {data.hex()}: {got}"
        return "both refuse"
    want, msg = want
    if got == REFUSED:
        assert not data.startswith(encoder.encode(msg)), f"ours refused a message pyasn1 decodes: {data.hex()}"
        return "ours stricter"
    assert got == want, f"different decoding of {data.hex()}:\n ours   {got}\n pyasn1 {want}"
    if intended is not None:
        assert got == intended, f"{data.hex()} decodes to {got}, generated as {intended}"
    return "equal"


# --- a fast generator of (sometimes slightly wrong, sometimes damaged) messages --------------


class Gen:
    """Random v1/v2c messages in BER with the liberties BER allows (long-form and padded
    lengths, padded integers), values near and past the edges of their ranges, and byte-level
    damage. ``intended`` is what the message means when nothing was made invalid."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.valid = True

    def length(self, n: int) -> bytes:
        r = self.r
        if n < 0x80 and r.random() < 0.9:
            return bytes((n,))
        body = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
        if r.random() < 0.2:
            body = b"\x00" * r.randint(1, 3) + body  # non-minimal, still BER
        return bytes((0x80 | len(body),)) + body

    def tlv(self, tag: int, content: bytes) -> bytes:
        return bytes((tag,)) + self.length(len(content)) + content

    def int_content(self, v: int) -> bytes:
        raw = v.to_bytes((v + (v < 0)).bit_length() // 8 + 1, "big", signed=True)
        if self.r.random() < 0.03:
            raw = (b"\xff" if v < 0 else b"\x00") * self.r.randint(1, 2) + raw  # padded, still BER
        if v == 0 and self.r.random() < 0.05:
            raw = b""  # pyasn1 reads an empty INTEGER as 0
        return raw

    def integer(self, lo: int, hi: int) -> int:
        r = self.r
        x = r.random()
        if x < 0.3:
            return r.choice((lo, hi, 0, 1, -1, 127, 128, 255, 256, -128, -129) if lo < 0 else (lo, hi, 0, 1, 127, 128))
        if x < 0.35:  # past the range
            self.valid = False
            return r.choice((lo - 1, hi + 1, hi * 2 + 7, -(1 << r.randint(1, 70))))
        return r.randint(lo, hi) if r.random() < 0.5 else r.randint(lo, min(hi, lo + 1000))

    def arc(self) -> int:
        r = self.r
        x = r.random()
        if x < 0.7:
            return r.randint(0, 127)
        if x < 0.95:
            return r.randint(128, 1 << 32)
        return r.randint(0, 1 << r.randint(33, 130))

    def oid(self) -> tuple[int, ...]:
        r = self.r
        first = r.randint(0, 2)
        second = r.randint(0, 39) if first < 2 else self.arc()
        return (first, second, *(self.arc() for _ in range(r.choice((0, 1, 5, 8, 10, 12, 14, 20)))))

    def varbind(self, v2: bool) -> tuple[bytes, ber.Varbind]:
        r = self.r
        oid = self.oid()
        tags = [ber.INTEGER, ber.OCTET_STRING, ber.NULL, ber.OBJECT_IDENTIFIER, ber.IP_ADDRESS, ber.COUNTER32,
                ber.GAUGE32, ber.TIMETICKS, ber.OPAQUE]
        if v2 or r.random() < 0.02:
            tags += [ber.COUNTER64, ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW]
        tag = r.choice(tags)
        value: ber.VarbindValue
        if not v2 and tag in (ber.COUNTER64, ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW):
            self.valid = False
        if tag == ber.INTEGER:
            value = self.integer(-(1 << 31), (1 << 31) - 1) if v2 else r.randint(-(1 << 70), 1 << 70)
            content = self.int_content(value)
        elif tag in (ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS):
            value = self.integer(0, (1 << 32) - 1)
            content = self.int_content(value)
        elif tag == ber.COUNTER64:
            value = self.integer(0, (1 << 64) - 1)
            content = self.int_content(value)
        elif tag in (ber.OCTET_STRING, ber.OPAQUE):
            n = r.choice((0, 1, 6, 17, 64, 200)) if r.random() < 0.999 else 65536
            if v2 and tag == ber.OCTET_STRING and n > 65535:
                self.valid = False
            value = r.randbytes(n)
            content = value
        elif tag == ber.IP_ADDRESS:
            n = 4 if r.random() < 0.95 else r.choice((0, 3, 5, 16))
            if n != 4:
                self.valid = False
            value = content = r.randbytes(n)
        elif tag == ber.OBJECT_IDENTIFIER:
            o = self.oid()
            value, content = ".".join(map(str, o)), ber.encode_oid(o)
        else:  # NULL and the exceptions
            value, content = None, b""
            if r.random() < 0.02:
                content = b"\x00"
                self.valid = False
        body = self.tlv(ber.OBJECT_IDENTIFIER, ber.encode_oid(oid)) + self.tlv(tag, content)
        return self.tlv(0x30, body), (oid, tag, value)

    def message(self) -> tuple[bytes, ber.Response | None]:
        r = self.r
        self.valid = True
        version = r.choice((0, 1, 1, 1)) if r.random() < 0.99 else r.choice((2, 3, -1))
        if version not in (0, 1):
            self.valid = False
        v2 = version == 1
        ptype = ber.RESPONSE
        if r.random() < 0.05:
            ptype = r.choice((ber.GET, ber.GET_NEXT, ber.SET, ber.GET_BULK, ber.INFORM, ber.TRAP_V2, ber.REPORT))
            if ptype != ber.REPORT or not v2:
                self.valid = False
        community = r.randbytes(r.choice((0, 6, 12, 40)))
        rid = self.integer(-(1 << 31), (1 << 31) - 1) if v2 else r.randint(-(1 << 40), 1 << 40)
        status = r.choice((0, 0, 0, 1, 2, 5, 18, 200, -3))
        index = self.integer(0, (1 << 31) - 1) if v2 else r.randint(-5, 1 << 33)
        pairs = [self.varbind(v2) for _ in range(r.choice((0, 1, 1, 1, 2, 2, 3, 6)))]
        vbl = self.tlv(0x30, b"".join(p[0] for p in pairs))
        pdu = self.tlv(ptype, b"".join(self.tlv(ber.INTEGER, self.int_content(v)) for v in (rid, status, index))
                       + vbl)
        data = self.tlv(0x30, self.tlv(ber.INTEGER, self.int_content(version)) + self.tlv(ber.OCTET_STRING, community)
                        + pdu)
        if r.random() < 0.02:
            data += r.randbytes(r.randint(1, 5))  # trailing bytes: pysnmp drops the message
            self.valid = False
        intended = ber.Response(version, community, ptype, rid, status, index, [p[1] for p in pairs])
        return data, intended if self.valid else None

    def damage(self, data: bytes) -> bytes:
        r = self.r
        b = bytearray(data)
        for _ in range(r.choice((1, 1, 1, 2, 3))):
            if not b:
                break
            i = r.randrange(len(b))
            kind = r.randrange(6)
            if kind == 0:
                b[i] ^= 1 << r.randrange(8)
            elif kind == 1:
                b[i] = r.choice((0x00, 0x7F, 0x80, 0x81, 0x82, 0xFF, 0x30, 0x04, 0x06, 0x05, 0x24, 0x1F))
            elif kind == 2:
                del b[i:]
            elif kind == 3:
                b.insert(i, r.randrange(256))
            elif kind == 4:
                del b[i]
            else:
                b[i] = (b[i] + r.choice((-1, 1))) & 0xFF
        return bytes(b)


# No shrinking: a seed does not shrink meaningfully, and the failure names the message.
@settings(max_examples=BATCHES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**64))
def test_ber_decodes_like_pyasn1_on_100000_messages(seed: int) -> None:
    gen = Gen(seed)
    outcomes: dict[str, int] = {}
    for _ in range(BATCH):
        data, intended = gen.message()
        if gen.r.random() < 0.3:
            data, intended = gen.damage(data), None
        how = check(data, intended)
        outcomes[how] = outcomes.get(how, 0) + 1
    assert outcomes.get("equal", 0) > BATCH // 3, outcomes  # the generator mostly makes decodable messages


# --- single varbinds at the edges, shrinkable -------------------------------------------------

_arcs = st.one_of(st.integers(0, 127), st.integers(128, 2**32), st.integers(0, 2**140))
_oids = st.tuples(st.integers(0, 1), st.integers(0, 39)).map(list) | st.tuples(st.just(2), _arcs).map(list)
OIDS = st.builds(lambda head, tail: (*head, *tail), _oids, st.lists(_arcs, max_size=20))


def _value_tlv(draw: Any) -> tuple[int, bytes]:
    tag = draw(st.sampled_from([ber.INTEGER, ber.OCTET_STRING, ber.NULL, ber.OBJECT_IDENTIFIER, ber.IP_ADDRESS,
                                ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.OPAQUE, ber.COUNTER64,
                                ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW, 0x45, 0x47, 0x24,
                                0x09, 0x30]))
    if tag in (ber.INTEGER, ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.COUNTER64):
        v = draw(st.integers(-(2**65), 2**65) | st.sampled_from([-(2**31) - 1, -(2**31), 2**31 - 1, 2**31,
                                                                  2**32 - 1, 2**32, 2**64 - 1, 2**64]))
        return tag, v.to_bytes((v + (v < 0)).bit_length() // 8 + 1, "big", signed=True)
    if tag == ber.OBJECT_IDENTIFIER:
        return tag, draw(st.binary(max_size=12) | OIDS.map(ber.encode_oid))
    return tag, draw(st.binary(max_size=8))


@st.composite
def one_varbind_messages(draw: Any) -> bytes:
    version = draw(st.sampled_from([0, 1]))
    tag, content = _value_tlv(draw)
    vb = ber.tl(0x30, ber.tl(ber.OBJECT_IDENTIFIER, ber.encode_oid(draw(OIDS))) + ber.tl(tag, content))
    pdu = ber.tl(ber.RESPONSE, ber.encode_int(draw(st.integers(-(2**31), 2**31 - 1))) + ber.encode_int(0) + ber.encode_int(0)
                  + ber.tl(0x30, vb))
    return ber.tl(0x30, ber.encode_int(version) + ber.tl(ber.OCTET_STRING, b"c") + pdu)


@settings(max_examples=1500, deadline=None)
@given(one_varbind_messages())
def test_every_value_type_at_its_edges(data: bytes) -> None:
    check(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60).map(lambda b: b"\x30" + bytes((len(b),)) + b) | st.binary(max_size=80))
def test_junk_is_refused_alike(data: bytes) -> None:
    check(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0, 1]), st.binary(max_size=40), st.sampled_from([ber.GET, ber.GET_NEXT, ber.GET_BULK]),
       st.integers(-(2**31), 2**31 - 1), st.lists(OIDS, max_size=30), st.integers(0, 2**31 - 1))
def test_requests_decode_in_pyasn1_as_built(version: int, community: bytes, ptype: int, rid: int,
                                            oids: list[tuple[int, ...]], reps: int) -> None:
    if version == 0 and ptype == ber.GET_BULK:
        ptype = ber.GET_NEXT  # no GETBULK in SNMPv1
    data = ber.encode_request(version, community, ptype, rid, oids, 0, reps)
    p = api.PROTOCOL_MODULES[version]
    msg, rest = decoder.decode(data, asn1Spec=p.Message())
    assert rest == b""
    pdu = p.apiMessage.get_pdu(msg)
    assert (int(msg[0]), bytes(msg[1]), int(pdu[0])) == (version, community, rid)
    assert [(tuple(o), v.prettyPrint()) for o, v in p.apiPDU.get_varbinds(pdu)] == [(o, "") for o in oids]
    if ptype == ber.GET_BULK:
        assert (int(pdu[1]), int(pdu[2])) == (0, reps)


def test_refusals_say_what_is_wrong() -> None:
    good = ber.encode_request(1, b"public", ber.GET, 7, [(1, 3, 6, 1, 2, 1, 1, 5, 0)])
    response = bytes((good[0],)) + good[1:].replace(bytes((ber.GET,)), bytes((ber.RESPONSE,)), 1)
    assert ber.decode_response(response).varbinds == [((1, 3, 6, 1, 2, 1, 1, 5, 0), ber.NULL, None)]
    with pytest.raises(ber.BerError, match="carries a GetRequest PDU, not a response"):
        ber.decode_response(good)
    with pytest.raises(ber.BerError, match=r"malformed SNMP message: .* runs past the end"):
        ber.decode_response(response[:-1])
    with pytest.raises(ber.BerError, match="version 3"):
        ber.decode_response(b"\x30\x03\x02\x01\x03")
