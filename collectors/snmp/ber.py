"""A small BER codec for the SNMP messages the collector exchanges on v1/v2c.

Decoding responses with pyasn1 cost about three quarters of the collector's CPU: it builds
a typed object per element and checks it against a schema. Here a response is read in one
pass straight into plain Python (OID tuples, ints, bytes), with the same acceptance rules
as pysnmp's receive path (pyasn1 decoding its v1/v2c ``Message`` schema), value ranges
included (tests/snmp/test_ber.py compares the two on generated and damaged messages).
One deliberate difference, for encodings that agents do not send: indefinite lengths
and constructed (segmented) strings are refused.

Requests (GET, GETNEXT, GETBULK with NULL values) are encoded here too. SNMPv3 wraps the
same PDUs in its header and USM security (``usm``).

Pure: bytes in, values out; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from collectors.errors import SourceError

OIDTuple = tuple[int, ...]
VarbindValue = int | bytes | str | None

# Value tags (universal, application and context-specific, all primitive).
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

# PDU tags.
GET = 0xA0
GET_NEXT = 0xA1
RESPONSE = 0xA2
SET = 0xA3
TRAP_V1 = 0xA4
GET_BULK = 0xA5
INFORM = 0xA6
TRAP_V2 = 0xA7
REPORT = 0xA8

VERSION_1, VERSION_2C = 0, 1

PDU_NAMES = {GET: "GetRequest", GET_NEXT: "GetNextRequest", RESPONSE: "Response", SET: "SetRequest",
             TRAP_V1: "Trap", GET_BULK: "GetBulkRequest", INFORM: "InformRequest", TRAP_V2: "SNMPv2-Trap",
             REPORT: "Report"}

_INT32 = (-(1 << 31), (1 << 31) - 1)
_UINT32 = (0, (1 << 32) - 1)
_UINT64 = (0, (1 << 64) - 1)
# Integer-valued tags and their ranges, per version (pysnmp's rfc1155/rfc1902 types).
_INT_RANGES_V1: dict[int, tuple[int, int] | None] = {
    INTEGER: None, COUNTER32: _UINT32, GAUGE32: _UINT32, TIMETICKS: _UINT32}
_INT_RANGES_V2: dict[int, tuple[int, int] | None] = {
    INTEGER: _INT32, COUNTER32: _UINT32, GAUGE32: _UINT32, TIMETICKS: _UINT32, COUNTER64: _UINT64}
_NOT_INT = (1, 0)  # int_ranges.get's default: not an integer-valued tag
_NULLS_V1 = frozenset({NULL})
_NULLS_V2 = frozenset({NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW})
_MAX_OCTET_STRING_V2 = 65535
_MAX_LENGTH_OCTETS = 8  # pyasn1's limit on long-form length octets
_MAX_ARC_CONTINUATIONS = 20  # pyasn1's limit on continuation octets in one OID arc
# An arc of more continuation octets than that, its first octet not 0x80, is at least this.
_ARC_TOO_LONG = 1 << (7 * _MAX_ARC_CONTINUATIONS)
_ONE_OCTET_ARCS = bytes(range(0x80))


class BerError(SourceError):
    """A datagram that is not a well-formed SNMP message of the kind expected."""


# One variable binding: (OID, value tag, value). The value is an int, bytes, dotted OID text,
# or None for NULL and the v2 exceptions; the tag (one of the value tags above) tells which
# kind of int or bytes. A plain tuple: a walk decodes tens of thousands.
Varbind = tuple[OIDTuple, int, VarbindValue]


class Response(NamedTuple):
    version: int  # 0 = v1, 1 = v2c
    community: bytes
    pdu_type: int  # RESPONSE or REPORT
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[Varbind]


# --- decoding ------------------------------------------------------------------------------


def _error(what: str, pos: int) -> BerError:
    return BerError(f"malformed SNMP message: {what} at byte {pos}")


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``, which must end by ``end``."""
    if pos + 2 > end:
        raise _error("element truncated", pos)
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise _error(f"unexpected multi-octet tag 0x{tag:02x}", pos)
    n = data[pos + 1]
    start = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise _error("indefinite length (not used by SNMP agents)", pos)
        if k > _MAX_LENGTH_OCTETS:
            raise _error(f"length of {k} octets", pos)
        if start + k > end:
            raise _error("length truncated", pos)
        n = int.from_bytes(data[start:start + k], "big")
        start += k
    stop = start + n
    if stop > end:
        raise _error(f"length {n} runs past the end of its enclosing element", pos)
    return tag, start, stop


def _integer(data: bytes, pos: int, end: int, what: str, bounds: tuple[int, int] | None) -> tuple[int, int]:
    tag, s, e = _tlv(data, pos, end)
    if tag != INTEGER:
        raise _error(f"{what}: expected INTEGER, found tag 0x{tag:02x}", pos)
    v = int.from_bytes(data[s:e], "big", signed=True)
    if bounds is not None and not bounds[0] <= v <= bounds[1]:
        raise _error(f"{what} {v} out of range", pos)
    return v, e


def decode_oid(content: bytes) -> OIDTuple:
    """The arcs of an OBJECT IDENTIFIER's content octets (BerError if malformed)."""
    if not content:
        raise BerError("malformed SNMP message: empty OBJECT IDENTIFIER")
    if content.isascii():  # every arc below 128: one octet each
        first = content[0]
        head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
        return head + tuple(content[1:])
    # Table indexes (MAC and IP addresses) give most OIDs of a walk a few arcs of 128 or more;
    # the one-octet arcs before the first of them are copied whole.
    k = len(content) - len(content.lstrip(_ONE_OCTET_ARCS))
    arcs = list(content[:k])
    append = arcs.append
    v = 0  # the arc being read; never 0 inside a multi-octet arc, whose first octet is not 0x80
    for b in content[k:]:
        if b < 0x80:
            append((v << 7) | b)
            v = 0
        elif v:
            v = (v << 7) | (b & 0x7F)
            if v >= _ARC_TOO_LONG:
                raise BerError("malformed SNMP message: OBJECT IDENTIFIER arc too long")
        elif b == 0x80:
            raise BerError("malformed SNMP message: OBJECT IDENTIFIER arc with a leading 0x80 octet")
        else:
            v = b & 0x7F
    if v:
        raise BerError("malformed SNMP message: OBJECT IDENTIFIER ends inside an arc")
    first = arcs[0]
    if first < 40:
        return (0, *arcs)
    if first < 80:
        return (1, first - 40, *arcs[1:])
    return (2, first - 80, *arcs[1:])


def decode_response(data: bytes) -> Response:
    """Decode an SNMPv1/v2c message carrying a Response (or Report) PDU; BerError otherwise."""
    try:
        return _decode_response(data)
    except BerError:
        raise
    except (IndexError, ValueError) as e:  # a bound check missed: still the same clear error
        raise BerError(f"malformed SNMP message: {e}") from None


def _decode_response(data: bytes) -> Response:
    end = len(data)
    tag, pos, mend = _tlv(data, 0, end)
    if tag != 0x30:
        raise _error(f"expected an SNMP message (SEQUENCE), found tag 0x{tag:02x}", 0)
    if mend != end:
        raise _error("data after the message", mend)
    version, pos = _integer(data, pos, mend, "version", None)
    if version == VERSION_1:
        v2 = False
    elif version == VERSION_2C:
        v2 = True
    else:
        raise BerError(f"SNMP message of version {version}: only v1 (0) and v2c (1) are decoded here")
    tag, s, pos = _tlv(data, pos, mend)
    if tag != OCTET_STRING:
        raise _error(f"community: expected OCTET STRING, found tag 0x{tag:02x}", s)
    community = data[s:pos]
    ptype, pos, pend = _tlv(data, pos, mend)
    if pend != mend:
        raise _error("data after the PDU", pend)
    return Response(version, community, *_pdu(data, ptype, pos, pend, v2))


def decode_pdu(data: bytes, pos: int, end: int) -> tuple[int, int, int, int, list[Varbind]]:
    """(pdu type, request-id, error-status, error-index, varbinds) of the v2 Response or Report
    PDU at ``pos`` (an SNMPv3 scopedPDU's data); BerError otherwise."""
    try:
        ptype, s, pend = _tlv(data, pos, end)
        if pend != end:
            raise _error("data after the PDU", pend)
        return _pdu(data, ptype, s, pend, True)
    except BerError:
        raise
    except (IndexError, ValueError) as e:
        raise BerError(f"malformed SNMP message: {e}") from None


def _pdu(data: bytes, ptype: int, pos: int, pend: int, v2: bool) -> tuple[int, int, int, int, list[Varbind]]:
    if ptype not in (RESPONSE, REPORT) or (ptype == REPORT and not v2):
        name = PDU_NAMES.get(ptype)
        if name is None or (not v2 and ptype in (GET_BULK, INFORM, TRAP_V2, REPORT)):
            raise _error(f"unknown PDU type 0x{ptype:02x}", pos)
        raise BerError(f"SNMP message carries a {name} PDU, not a response")
    request_id, pos = _integer(data, pos, pend, "request-id", _INT32 if v2 else None)
    error_status, pos = _integer(data, pos, pend, "error-status", None)
    error_index, pos = _integer(data, pos, pend, "error-index", (0, _INT32[1]) if v2 else None)
    tag, pos, lend = _tlv(data, pos, pend)
    if tag != 0x30:
        raise _error(f"variable-bindings: expected SEQUENCE, found tag 0x{tag:02x}", pos)
    if lend != pend:
        raise _error("data after the variable-bindings", lend)
    return ptype, request_id, error_status, error_index, _varbinds(data, pos, lend, v2)


def _varbinds(data: bytes, pos: int, end: int, v2: bool) -> list[Varbind]:
    int_ranges = _INT_RANGES_V2 if v2 else _INT_RANGES_V1
    nulls = _NULLS_V2 if v2 else _NULLS_V1
    out: list[Varbind] = []
    append = out.append
    while pos < end:
        # The common case (short lengths) inline; anything else through _tlv.
        if data[pos] != 0x30:
            raise _error(f"varbind: expected SEQUENCE, found tag 0x{data[pos]:02x}", pos)
        n = data[pos + 1]
        if n < 0x80:
            s, vend = pos + 2, pos + 2 + n
            if vend > end:
                raise _error(f"length {n} runs past the end of its enclosing element", pos)
        else:
            _, s, vend = _tlv(data, pos, end)
        n = data[s + 1]
        if data[s] != OBJECT_IDENTIFIER:
            raise _error(f"varbind name: expected OBJECT IDENTIFIER, found tag 0x{data[s]:02x}", s)
        if n < 0x80:
            os_, oe = s + 2, s + 2 + n
            if oe > vend:
                raise _error(f"length {n} runs past the end of its enclosing element", s)
        else:
            _, os_, oe = _tlv(data, s, vend)
        name = data[os_:oe]
        if name.isascii() and name:  # decode_oid's common case, inline
            first = name[0]
            oid = ((0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)) + tuple(name[1:])
        else:
            oid = decode_oid(name)
        if oe + 2 > vend:
            raise _error("varbind without a value", oe)
        tag = data[oe]
        n = data[oe + 1]
        if n < 0x80:
            cs, ce = oe + 2, oe + 2 + n
            if ce > vend:
                raise _error(f"length {n} runs past the end of its enclosing element", oe)
        else:
            tag, cs, ce = _tlv(data, oe, vend)
        if ce != vend:
            raise _error("data after the varbind's value", ce)
        value: VarbindValue
        if tag == OCTET_STRING:
            value = data[cs:ce]
            if v2 and ce - cs > _MAX_OCTET_STRING_V2:
                raise _error(f"OCTET STRING of {ce - cs} octets (at most 65535)", oe)
        elif (bounds := int_ranges.get(tag, _NOT_INT)) is not _NOT_INT:
            value = int.from_bytes(data[cs:ce], "big", signed=True)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise _error(f"value {value} out of range for tag 0x{tag:02x}", oe)
        elif tag in nulls:
            if ce != cs:
                raise _error(f"NULL value with {ce - cs} content octets", oe)
            value = None
        elif tag == OBJECT_IDENTIFIER:
            value = ".".join(map(str, decode_oid(data[cs:ce])))
        elif tag == IP_ADDRESS:
            if ce - cs != 4:
                raise _error(f"IpAddress of {ce - cs} octets", oe)
            value = data[cs:ce]
        elif tag == OPAQUE:
            value = data[cs:ce]
        elif tag in (0x24, 0x60, 0x64):
            raise _error(f"constructed string encoding 0x{tag:02x} (not used by SNMP agents)", oe)
        else:
            raise _error(f"unknown value type 0x{tag:02x}", oe)
        append((oid, tag, value))
        pos = vend
    return out


# --- encoding ------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tl(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def encode_int(v: int) -> bytes:
    return tl(INTEGER, v.to_bytes((v + (v < 0)).bit_length() // 8 + 1, "big", signed=True))


def encode_oid(oid: OIDTuple) -> bytes:
    """The content octets of an OBJECT IDENTIFIER (at least two arcs, first 0..2)."""
    if len(oid) < 2 or not 0 <= oid[0] <= 2 or (oid[0] < 2 and not 0 <= oid[1] < 40):
        raise ValueError(f"cannot encode OID {oid!r}")
    head = oid[0] * 40 + oid[1]
    if head < 0x80 and max(oid) < 0x80 and min(oid) >= 0:  # every subidentifier one octet
        return bytes((head, *oid[2:]))
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0x80:
            if arc < 0:
                raise ValueError(f"cannot encode OID {oid!r}")
            out.append(arc)
            continue
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


_NULL_VALUE = b"\x05\x00"


def encode_pdu(pdu_type: int, request_id: int, oids: Sequence[OIDTuple], non_repeaters: int = 0,
               max_repetitions: int = 0) -> bytes:
    """A GET, GETNEXT or GETBULK PDU asking for ``oids`` (values NULL)."""
    parts = []
    for o in oids:
        name = encode_oid(o)
        if len(name) < 0x7C:  # the varbind's length fits one octet too
            parts.append(b"\x30%c\x06%c%b\x05\x00" % (len(name) + 4, len(name), name))
        else:
            parts.append(tl(0x30, tl(OBJECT_IDENTIFIER, name) + _NULL_VALUE))
    vbs = b"".join(parts)
    if pdu_type == GET_BULK:
        a, b = non_repeaters, max_repetitions
    else:
        a = b = 0
    return tl(pdu_type, encode_int(request_id) + encode_int(a) + encode_int(b) + tl(0x30, vbs))


def encode_request(version: int, community: bytes, pdu_type: int, request_id: int, oids: Sequence[OIDTuple],
                   non_repeaters: int = 0, max_repetitions: int = 0) -> bytes:
    """A v1/v2c GET, GETNEXT or GETBULK message asking for ``oids`` (values NULL)."""
    pdu = encode_pdu(pdu_type, request_id, oids, non_repeaters, max_repetitions)
    return tl(0x30, encode_int(version) + tl(OCTET_STRING, community) + pdu)
