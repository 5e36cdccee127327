"""SNMPv3 messages with the User-based Security Model (RFC 3412, RFC 3414), as pure functions.

pysnmp's engine cost about 15 times the CPU per varbind of the v1/v2c path, and most
hospitals poll with SNMPv3. Here a request is built and a response checked and opened
in a few passes: the PDU itself is ``ber``'s, the rest is the message header, the USM
security parameters, HMAC (RFC 3414 MD5/SHA-1, RFC 7860 SHA-2) and the privacy ciphers
(DES-CBC, RFC 3414; AES-CFB, RFC 3826, with the key extensions pysnmp applies for
AES-192/256: Blumenthal's, as net-snmp, and Reeder's, as Cisco). Ciphers come from
``cryptography``; nothing here is a cipher of its own.

No I/O: bytes and keys in, bytes or values out. Anything malformed or unauthenticated
raises UsmError, which the caller counts and drops.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from collectors.snmp import ber
from collectors.snmp.ber import OCTET_STRING, BerError, encode_int, tl

VERSION_3 = 3
USM = 3  # msgSecurityModel
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
MAX_SIZE = 65507  # msgMaxSize: the largest UDP payload

# auth protocol (the config's name) -> (hash, octets of the truncated HMAC in the message)
AUTH: dict[str, tuple[str, int]] = {
    "md5": ("md5", 12),  # usmHMACMD5AuthProtocol, RFC 3414
    "sha": ("sha1", 12),  # usmHMACSHAAuthProtocol, RFC 3414
    "sha224": ("sha224", 16),  # usmHMAC128SHA224AuthProtocol, RFC 7860
    "sha256": ("sha256", 24),  # usmHMAC192SHA256AuthProtocol
    "sha384": ("sha384", 32),  # usmHMAC256SHA384AuthProtocol
    "sha512": ("sha512", 48),  # usmHMAC384SHA512AuthProtocol
}
# priv protocol -> (cipher key octets, key extension when the localized key is shorter)
PRIV: dict[str, tuple[int, str]] = {
    "des": (8, ""),  # and 8 octets of pre-IV after the key: 16 of the localized key
    "aes128": (16, ""),
    "aes192": (24, "blumenthal"),
    "aes256": (32, "blumenthal"),
    "aes192c": (24, "reeder"),
    "aes256c": (32, "reeder"),
}

# usmStats* reports (RFC 3414 section 5) and the one of RFC 3413 the collector tells apart.
UNSUPPORTED_SEC_LEVELS = (1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0)
NOT_IN_TIME_WINDOWS = (1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0)
UNKNOWN_USER_NAMES = (1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0)
UNKNOWN_ENGINE_IDS = (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0)
WRONG_DIGESTS = (1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0)
DECRYPTION_ERRORS = (1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0)
UNKNOWN_CONTEXTS = (1, 3, 6, 1, 6, 3, 12, 1, 5, 0)


class UsmError(BerError):
    """An SNMPv3 message that is malformed, or fails authentication or decryption."""


# --- keys (RFC 3414 section 2.6 and A.2) ------------------------------------------------------


def _password_to_key(password: bytes, hash_name: str) -> bytes:
    if not password:
        raise ValueError("an SNMPv3 password cannot be empty")
    n = 1 << 20
    return hashlib.new(hash_name, (password * (n // len(password) + 1))[:n]).digest()


@functools.lru_cache(maxsize=256)
def password_to_key(password: bytes, hash_name: str) -> bytes:
    """Ku: the hash of 1 MiB of the password repeated (RFC 3414 A.2.1/A.2.2). Cached: ms each."""
    return _password_to_key(password, hash_name)


def localize_key(ku: bytes, engine_id: bytes, hash_name: str) -> bytes:
    """Kul = H(Ku || engine id || Ku) (RFC 3414 A.2)."""
    return hashlib.new(hash_name, ku + engine_id + ku).digest()


def localized_priv_key(password: bytes, engine_id: bytes, auth_protocol: str, priv_protocol: str) -> bytes:
    """The privacy key for ``engine_id``, extended to what the cipher needs as pysnmp extends it."""
    hash_name = AUTH[auth_protocol][0]
    size, extension = PRIV[priv_protocol]
    if priv_protocol == "des":
        size = 16
    key = localize_key(password_to_key(password, hash_name), engine_id, hash_name)
    if extension == "blumenthal":  # draft-blumenthal-aes-usm-04 section 3.1.2.1
        while len(key) < size:
            key += hashlib.new(hash_name, key).digest()
    elif extension == "reeder":  # draft-reeder-snmpv3-usm-3desede-00 section 2.1
        while len(key) < size:
            # a key per engine: not cached, where it would push the users' passwords out
            key += localize_key(_password_to_key(key, hash_name), engine_id, hash_name)
    if len(key) < size:
        raise ValueError(f"{priv_protocol} needs a {size}-octet key; {auth_protocol} gives {len(key)}")
    return key[:size]


@dataclass(frozen=True)
class Keys:
    """One user's keys localized to one authoritative engine."""

    user: bytes
    auth_protocol: str | None
    auth_key: bytes
    priv_protocol: str | None
    priv_key: bytes

    @property
    def flags(self) -> int:
        return (FLAG_AUTH if self.auth_protocol else 0) | (FLAG_PRIV if self.priv_protocol else 0)


# Sized for a campus: one entry per (credential set, engine), and a miss may hash a MiB or two.
@functools.lru_cache(maxsize=8192)
def localized_keys(user: bytes, auth_protocol: str | None, auth_password: bytes, priv_protocol: str | None,
                   priv_password: bytes, engine_id: bytes) -> Keys:
    """Keys of a user for an engine; cached per (passwords, engine id): localization hashes a MiB."""
    if priv_protocol and not auth_protocol:
        raise ValueError("SNMPv3 privacy needs authentication")
    auth_key = b""
    priv_key = b""
    if auth_protocol:
        hash_name = AUTH[auth_protocol][0]
        auth_key = localize_key(password_to_key(auth_password, hash_name), engine_id, hash_name)
        if priv_protocol:
            priv_key = localized_priv_key(priv_password, engine_id, auth_protocol, priv_protocol)
    return Keys(user, auth_protocol, auth_key, priv_protocol, priv_key)


# --- authentication and privacy ---------------------------------------------------------------


def digest(keys: Keys, message: bytes) -> bytes:
    """The truncated HMAC of a whole message (its authentication parameters zeroed)."""
    assert keys.auth_protocol is not None
    hash_name, size = AUTH[keys.auth_protocol]
    return hmac.digest(keys.auth_key, message, hash_name)[:size]


def _cipher(keys: Keys, boots: int, time: int, salt: bytes) -> Cipher[modes.CBC] | Cipher[CFB]:
    proto, key = keys.priv_protocol, keys.priv_key
    if proto == "des":
        iv = bytes(a ^ b for a, b in zip(key[8:16], salt, strict=True))
        return Cipher(TripleDES(key[:8] * 3), modes.CBC(iv))  # 3DES with K1=K2=K3 is DES
    iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt
    return Cipher(algorithms.AES(key), CFB(iv))


def encrypt(keys: Keys, boots: int, time: int, salt: bytes, plaintext: bytes) -> bytes:
    """The encryptedPDU of a scopedPDU (``salt``: the 8 octets sent as msgPrivacyParameters)."""
    if keys.priv_protocol == "des":
        plaintext += b"\0" * (-len(plaintext) % 8)
    enc = _cipher(keys, boots, time, salt).encryptor()
    return enc.update(plaintext) + enc.finalize()


def decrypt(keys: Keys, boots: int, time: int, salt: bytes, ciphertext: bytes) -> bytes:
    """The scopedPDU of an encryptedPDU; UsmError if it cannot be."""
    if len(salt) != 8 or (keys.priv_protocol == "des" and len(ciphertext) % 8):
        raise UsmError("SNMPv3 message with malformed privacy parameters")
    dec = _cipher(keys, boots, time, salt).decryptor()
    return dec.update(ciphertext) + dec.finalize()


# --- requests ---------------------------------------------------------------------------------


def encode_request(keys: Keys | None, engine_id: bytes, boots: int, time: int, msg_id: int, context: bytes,
                   pdu: bytes, salt: int) -> bytes:
    """An SNMPv3 message carrying ``pdu`` (``ber.encode_pdu``), reportable.

    ``keys`` None: noAuthNoPriv with no user, the engine discovery of RFC 3414 section 4.
    ``salt`` is a counter the caller advances per message (unique per key, for the IV).
    """
    flags = FLAG_REPORTABLE | (keys.flags if keys else 0)
    scoped = tl(0x30, tl(OCTET_STRING, engine_id) + tl(OCTET_STRING, context) + pdu)
    priv_params = b""
    if keys is not None and keys.priv_protocol:
        if keys.priv_protocol == "des":
            priv_params = (boots & 0xFFFFFFFF).to_bytes(4, "big") + (salt & 0xFFFFFFFF).to_bytes(4, "big")
        else:
            priv_params = (salt & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
        data = tl(OCTET_STRING, encrypt(keys, boots, time, priv_params, scoped))
    else:
        data = scoped
    size = AUTH[keys.auth_protocol][1] if keys is not None and keys.auth_protocol else 0
    head = (tl(OCTET_STRING, engine_id) + encode_int(boots) + encode_int(time)
            + tl(OCTET_STRING, keys.user if keys else b""))
    sec_inner = head + tl(OCTET_STRING, bytes(size)) + tl(OCTET_STRING, priv_params)
    sec = tl(0x30, sec_inner)
    sec_os = tl(OCTET_STRING, sec)
    header = tl(0x30, encode_int(msg_id) + encode_int(MAX_SIZE) + tl(OCTET_STRING, bytes((flags,)))
                + encode_int(USM))
    message = tl(0x30, encode_int(VERSION_3) + header + sec_os + data)
    if not size:
        return message
    assert keys is not None
    # The auth parameters' content: after everything up to the security parameters, their
    # headers, the parameters before them and their own two-octet header.
    at = (len(message) - len(data) - len(sec_os) + (len(sec_os) - len(sec)) + (len(sec) - len(sec_inner))
          + len(head) + 2)
    return message[:at] + digest(keys, message) + message[at + size:]


# --- responses --------------------------------------------------------------------------------


class Incoming(NamedTuple):
    """The parts of an SNMPv3 message, before authentication and decryption."""

    msg_id: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_params: bytes
    auth_at: int  # offset of auth_params' content in the message
    priv_params: bytes
    encrypted: bool
    data: bytes  # the encryptedPDU's octets, or the plaintext scopedPDU (whole TLV)


def _octets(data: bytes, pos: int, end: int, what: str) -> tuple[bytes, int, int]:
    tag, s, e = ber._tlv(data, pos, end)
    if tag != OCTET_STRING:
        raise UsmError(f"malformed SNMPv3 message: {what}: expected OCTET STRING, found tag 0x{tag:02x}")
    return data[s:e], s, e


def _uint(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    return ber._integer(data, pos, end, what, (0, (1 << 31) - 1))


def peek_msg_id(data: bytes) -> int | None:
    """The msgID of an SNMPv3 message; None when the datagram is not one (cheap: a router's test)."""
    try:
        _, pos, end = ber._tlv(data, 0, len(data))
        version, pos = ber._integer(data, pos, end, "version", None)
        if version != VERSION_3:
            return None
        tag, pos, _ = ber._tlv(data, pos, end)
        if tag != 0x30:
            return None
        msg_id, _ = ber._integer(data, pos, end, "msgID", None)
        return msg_id
    except (BerError, IndexError, ValueError):
        return None


def parse(data: bytes) -> Incoming:
    """The header and USM security parameters of an SNMPv3 message; UsmError if malformed."""
    try:
        return _parse(data)
    except UsmError:
        raise
    except (BerError, IndexError, ValueError) as e:
        raise UsmError(str(e).replace("SNMP message", "SNMPv3 message")) from None


def _parse(data: bytes) -> Incoming:
    end = len(data)
    tag, pos, mend = ber._tlv(data, 0, end)
    if tag != 0x30 or mend != end:
        raise UsmError("malformed SNMPv3 message: not one SEQUENCE")
    version, pos = ber._integer(data, pos, mend, "msgVersion", None)
    if version != VERSION_3:
        raise UsmError(f"SNMP message of version {version}, not 3")
    tag, pos, gend = ber._tlv(data, pos, mend)
    if tag != 0x30:
        raise UsmError("malformed SNMPv3 message: msgGlobalData is not a SEQUENCE")
    msg_id, pos = _uint(data, pos, gend, "msgID")
    _, pos = ber._integer(data, pos, gend, "msgMaxSize", (484, (1 << 31) - 1))
    flags_octets, _, pos = _octets(data, pos, gend, "msgFlags")
    model, pos = _uint(data, pos, gend, "msgSecurityModel")
    if pos != gend or len(flags_octets) != 1:
        raise UsmError("malformed SNMPv3 message: msgGlobalData")
    if model != USM:
        raise UsmError(f"SNMPv3 message of security model {model}, not USM (3)")
    flags = flags_octets[0]
    if flags & FLAG_PRIV and not flags & FLAG_AUTH:
        raise UsmError("SNMPv3 message with privacy but no authentication")
    _, spos, send = _octets(data, gend, mend, "msgSecurityParameters")
    tag, pos, uend = ber._tlv(data, spos, send)
    if tag != 0x30 or uend != send:
        raise UsmError("malformed SNMPv3 message: UsmSecurityParameters")
    engine_id, _, pos = _octets(data, pos, uend, "msgAuthoritativeEngineID")
    boots, pos = _uint(data, pos, uend, "msgAuthoritativeEngineBoots")
    time, pos = _uint(data, pos, uend, "msgAuthoritativeEngineTime")
    user, _, pos = _octets(data, pos, uend, "msgUserName")
    auth_params, auth_at, pos = _octets(data, pos, uend, "msgAuthenticationParameters")
    priv_params, _, pos = _octets(data, pos, uend, "msgPrivacyParameters")
    if pos != uend or len(engine_id) > 32 or len(user) > 32:
        raise UsmError("malformed SNMPv3 message: UsmSecurityParameters")
    tag, s, e = ber._tlv(data, send, mend)
    if e != mend:
        raise UsmError("malformed SNMPv3 message: data after msgData")
    encrypted = bool(flags & FLAG_PRIV)
    if encrypted != (tag == OCTET_STRING) or (not encrypted and tag != 0x30):
        raise UsmError("malformed SNMPv3 message: msgData does not match msgFlags")
    return Incoming(msg_id, flags, engine_id, boots, time, user, auth_params, auth_at, priv_params, encrypted,
                    data[s:e] if encrypted else data[send:e])


class Opened(NamedTuple):
    """An SNMPv3 response or report, checked: ``authenticated`` is False only for reports."""

    incoming: Incoming
    authenticated: bool
    context_engine_id: bytes
    context: bytes
    response: ber.Response  # version 3, community b""


def authentic(keys: Keys, message: bytes, incoming: Incoming) -> bool:
    """Does the message carry the user's HMAC (RFC 3414 section 3.2 step 6)?"""
    size = AUTH[keys.auth_protocol][1] if keys.auth_protocol else 0
    if len(incoming.auth_params) != size:
        return False
    at = incoming.auth_at
    zeroed = message[:at] + bytes(size) + message[at + size:]
    return hmac.compare_digest(digest(keys, zeroed), incoming.auth_params)


def open_response(message: bytes, keys: Keys | None) -> Opened:
    """Check and open an answer to a request made with ``keys`` (None: a discovery).

    A Response must come at the request's security level, from the user, with the engine's
    HMAC. A Report may come unauthenticated (an agent refusing the user or the key cannot
    authenticate its refusal, RFC 3412 section 7.2); the caller decides what an
    unauthenticated report may change. UsmError for anything else.
    """
    incoming = parse(message)
    authenticated = False
    if incoming.flags & FLAG_AUTH:
        if keys is None or not keys.auth_protocol or incoming.user != keys.user:
            raise UsmError("SNMPv3 message at a security level or for a user not asked for")
        if not authentic(keys, message, incoming):
            raise UsmError("SNMPv3 message failed authentication")
        authenticated = True
    if incoming.encrypted:
        assert keys is not None
        if not keys.priv_protocol:
            raise UsmError("SNMPv3 message encrypted though privacy was not asked for")
        scoped = decrypt(keys, incoming.boots, incoming.time, incoming.priv_params, incoming.data)
    else:
        scoped = incoming.data
    try:
        ctx_engine, ctx_name, rsp = decode_scoped_pdu(scoped, incoming.encrypted)
    except (BerError, IndexError, ValueError) as e:  # a bound check missed: still refused, not raised
        if incoming.encrypted:
            raise UsmError(f"SNMPv3 message that does not decrypt to a scopedPDU ({e})") from None
        raise UsmError(str(e)) from None
    wanted = keys.flags if keys is not None else 0
    if rsp.pdu_type != ber.REPORT and (incoming.flags & (FLAG_AUTH | FLAG_PRIV)) != wanted:
        raise UsmError("SNMPv3 response at another security level than its request")
    return Opened(incoming, authenticated, ctx_engine, ctx_name, rsp)


def decode_scoped_pdu(scoped: bytes, padded: bool = False) -> tuple[bytes, bytes, ber.Response]:
    """(contextEngineID, contextName, Response) of a scopedPDU; ``padded``: DES's padding may follow."""
    tag, pos, send = ber._tlv(scoped, 0, len(scoped))
    if tag != 0x30 or (send != len(scoped) and not padded):
        raise UsmError("malformed SNMPv3 message: scopedPDU is not one SEQUENCE")
    ctx_engine, _, pos = _octets(scoped, pos, send, "contextEngineID")
    ctx_name, _, pos = _octets(scoped, pos, send, "contextName")
    ptype, request_id, status, index, varbinds = ber.decode_pdu(scoped, pos, send)
    return ctx_engine, ctx_name, ber.Response(VERSION_3, b"", ptype, request_id, status, index, varbinds)


def report_oid(rsp: ber.Response) -> tuple[int, ...] | None:
    """The counter a Report PDU names (its first varbind), if any."""
    return rsp.varbinds[0][0] if rsp.pdu_type == ber.REPORT and rsp.varbinds else None


def discovery_pdu(request_id: int) -> bytes:
    """The empty GET of an engine discovery (RFC 3414 section 4), as net-snmp sends it."""
    return ber.encode_pdu(ber.GET, request_id, ())


def request_pdu(pdu_type: int, request_id: int, oids: Sequence[ber.OIDTuple], max_repetitions: int) -> bytes:
    return ber.encode_pdu(pdu_type, request_id, oids, 0, max_repetitions)
