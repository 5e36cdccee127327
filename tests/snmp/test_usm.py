"""The pure SNMPv3/USM functions (collectors/snmp/usm.py): RFC 3414 A.3 key vectors, key
localization equal to pysnmp's for every protocol the config accepts, and messages that
round-trip, while any damage to them is refused with UsmError, never another exception."""

from __future__ import annotations

import contextlib
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysnmp.entity import config as pysnmp_config
from pysnmp.hlapi.v3arch.asyncio import auth as hlauth
from pysnmp.proto.rfc1902 import OctetString

from collectors.snmp import ber, client, usm
from sensor.config import schema

ENGINE_A3 = bytes.fromhex("000000000000000000000002")


@pytest.mark.parametrize(("hash_name", "ku", "kul"), [
    # RFC 3414 A.3.1 (MD5) and A.3.2 (SHA), password "maplesyrup"
    ("md5", "9faf3283884e92834ebc9847d8edd963", "526f5eed9fcce26f8964c2930787d82b"),
    ("sha1", "9fb5cc0381497b3793528939ff788d5d79145211", "6695febc9288e36282235fc7151f128497b38f3f"),
])
def test_rfc3414_key_vectors(hash_name: str, ku: str, kul: str) -> None:
    assert usm.password_to_key(b"maplesyrup", hash_name).hex() == ku
    assert usm.localize_key(bytes.fromhex(ku), ENGINE_A3, hash_name).hex() == kul


def test_the_protocols_are_exactly_the_configs() -> None:
    assert set(usm.AUTH) == set(typing.get_args(schema.AuthProtocol))
    assert set(usm.PRIV) == set(typing.get_args(schema.PrivProtocol))


def _pysnmp_keys(auth: str, priv: str, auth_pw: bytes, priv_pw: bytes, engine_id: bytes) -> tuple[bytes, bytes]:
    auth_id = getattr(hlauth, client.AUTH_PROTOCOLS[auth])
    priv_id = getattr(hlauth, client.PRIV_PROTOCOLS[priv])
    a = pysnmp_config.AUTH_SERVICES[auth_id]
    p = pysnmp_config.PRIV_SERVICES[priv_id]
    eid = OctetString(engine_id)
    auth_key = a.localize_key(a.hash_passphrase(auth_pw), eid)
    priv_key = p.localize_key(auth_id, p.hash_passphrase(auth_id, priv_pw), eid)
    return bytes(auth_key), bytes(priv_key)


@settings(max_examples=60, deadline=None)
@given(auth=st.sampled_from(sorted(usm.AUTH)), priv=st.sampled_from(sorted(usm.PRIV)),
       auth_pw=st.binary(min_size=8, max_size=40), priv_pw=st.binary(min_size=8, max_size=40),
       engine_id=st.binary(min_size=5, max_size=32))
def test_localized_keys_equal_pysnmps(auth: str, priv: str, auth_pw: bytes, priv_pw: bytes,
                                      engine_id: bytes) -> None:
    keys = usm.localized_keys(b"u", auth, auth_pw, priv, priv_pw, engine_id)
    auth_key, priv_key = _pysnmp_keys(auth, priv, auth_pw, priv_pw, engine_id)
    assert keys.auth_key == auth_key
    # pysnmp keeps DES's key and pre-IV (16 octets), and AES's key, as we do
    assert keys.priv_key == priv_key[:len(keys.priv_key)]
    assert len(keys.priv_key) == (16 if priv == "des" else usm.PRIV[priv][0])


def test_every_extension_is_exercised_above() -> None:
    # md5 (16 octets) and sha (20) are shorter than AES-192/256 keys: the extensions matter there.
    for priv in ("aes192", "aes256", "aes192c", "aes256c"):
        k = usm.localized_keys(b"u", "md5", b"authpass", priv, b"privpass", ENGINE_A3)
        assert len(k.priv_key) == usm.PRIV[priv][0]
    blumenthal = usm.localized_keys(b"u", "md5", b"authpass", "aes256", b"privpass", ENGINE_A3).priv_key
    reeder = usm.localized_keys(b"u", "md5", b"authpass", "aes256c", b"privpass", ENGINE_A3).priv_key
    assert blumenthal[:16] == reeder[:16] and blumenthal[16:] != reeder[16:]


LEVELS = [(None, None), ("md5", None), ("sha512", None)] + [
    (a, p) for a in ("md5", "sha", "sha224", "sha256", "sha384", "sha512") for p in sorted(usm.PRIV)]


def _response(keys: usm.Keys | None, msg_id: int, varbinds: bytes) -> bytes:
    pdu = ber.tl(ber.RESPONSE, ber.encode_int(msg_id) + ber.encode_int(0) + ber.encode_int(0)
                 + ber.tl(0x30, varbinds))
    return usm.encode_request(keys, b"\x80\x00\x1f\x88\x04engine", 7, 123456, msg_id, b"ctx", pdu, 42)


VB = ber.tl(0x30, ber.tl(ber.OBJECT_IDENTIFIER, ber.encode_oid((1, 3, 6, 1, 2, 1, 1, 5, 0)))
            + ber.tl(ber.OCTET_STRING, b"switch-1"))


def _keys(auth: str | None, priv: str | None) -> usm.Keys:
    return usm.localized_keys(b"user", auth, b"auth-pass", priv, b"priv-pass", b"\x80\x00\x1f\x88\x04engine")


@pytest.mark.parametrize(("auth", "priv"), LEVELS)
def test_round_trip(auth: str | None, priv: str | None) -> None:
    keys = _keys(auth, priv)
    message = _response(keys, 99, VB)
    opened = usm.open_response(message, keys)
    assert opened.authenticated is bool(auth)
    assert opened.incoming.encrypted is bool(priv) and (VB in message) is not bool(priv)
    assert opened.context == b"ctx" and opened.incoming.boots == 7 and opened.incoming.time == 123456
    assert opened.response.request_id == 99
    assert opened.response.varbinds == [((1, 3, 6, 1, 2, 1, 1, 5, 0), ber.OCTET_STRING, b"switch-1")]
    # The same message checked with another user's keys, or a response at a lower level, is refused.
    if auth:
        with pytest.raises(usm.UsmError):
            usm.open_response(message, usm.localized_keys(b"user", auth, b"other-pass", priv, b"priv-pass",
                                                          b"\x80\x00\x1f\x88\x04engine"))
    with pytest.raises(usm.UsmError):
        usm.open_response(_response(None, 99, VB), keys) if auth else usm.open_response(message, _keys("sha", None))


@settings(max_examples=300, deadline=None)
@given(level=st.sampled_from(LEVELS[1:]), where=st.integers(min_value=0), flip=st.integers(1, 255))
def test_any_damaged_octet_is_refused(level: tuple[str, str | None], where: int, flip: int) -> None:
    keys = _keys(*level)
    message = bytearray(_response(keys, 5, VB))
    message[where % len(message)] ^= flip
    with pytest.raises(usm.UsmError):
        usm.open_response(bytes(message), keys)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), level=st.sampled_from(LEVELS))
def test_garbage_is_a_usm_error(data: bytes, level: tuple[str | None, str | None]) -> None:
    keys = _keys(*level) if level[0] else None
    with contextlib.suppress(usm.UsmError):
        usm.open_response(data, keys)
    assert usm.peek_msg_id(data) is None or isinstance(usm.peek_msg_id(data), int)


def test_truncated_messages_are_usm_errors() -> None:
    keys = _keys("sha256", "aes128")
    message = _response(keys, 5, VB)
    for n in range(len(message)):
        with pytest.raises(usm.UsmError):
            usm.open_response(message[:n], keys)
