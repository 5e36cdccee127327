"""SNMPv3 without pysnmp (collectors/snmp/usm.py) against net-snmp's snmpd: every auth x priv
combination it speaks walks the same rows as v2c and as pysnmp's engine, and refusals give
the same typed errors and messages as pysnmp's engine did."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from collectors.snmp import client, oids, usm
from collectors.snmp.client import Credentials, Session, Target, close_engines
from sensor.errors import SourceError, SwitchAuthError, SwitchUnreachable
from tests.snmp import agents

pytestmark = pytest.mark.skipif(agents.shutil.which("snmpd") is None, reason="net-snmp snmpd is not installed")

# Columns that do not change while the test runs (no counters), of several value types:
# strings, integers, MAC addresses, OIDs.
COLUMNS = {
    "ifDescr": oids.IF_TABLE["ifDescr"], "ifType": oids.IF_TABLE["ifType"],
    "ifPhysAddress": oids.IF_TABLE["ifPhysAddress"], "ifName": oids.IFX_TABLE["ifName"],
    "sysORID": (1, 3, 6, 1, 2, 1, 1, 9, 1, 2), "sysORDescr": (1, 3, 6, 1, 2, 1, 1, 9, 1, 3),
}
STATIC_SCALARS = {k: v for k, v in oids.SYSTEM.items() if k != "sysUpTime"}


@pytest.fixture(autouse=True)
async def _engines() -> AsyncIterator[None]:
    yield
    close_engines()


def _target(port: int, timeout: float = 1.0, retries: int = 1, reps: int = 20) -> Target:
    return Target("127.0.0.1", port, timeout=timeout, retries=retries, max_repetitions=reps)


def _v3(user: str, auth: str | None, priv: str | None, **kw: str) -> Credentials:
    return Credentials("3", user=user, auth_protocol=auth, auth_key=kw.get("auth_key", agents.AUTH_KEY),
                       priv_protocol=priv, priv_key=kw.get("priv_key", agents.PRIV_KEY) if priv else None)


async def _read(port: int, creds: Credentials, engine: str, bulk: bool) -> tuple[Any, ...]:
    s = Session(_target(port, reps=7), creds)
    s.v3_engine = engine
    s.use_bulk = bulk and s.use_bulk
    rows, problems = await s.walk(COLUMNS)
    scalars = await s.get(STATIC_SCALARS)
    return rows, problems, scalars, s.stats.dropped


@pytest.fixture(scope="module")
def v2c_rows(snmpd_port: int) -> tuple[Any, ...]:
    async def read() -> tuple[Any, ...]:
        try:
            return await _read(snmpd_port, Credentials("2c", community="public"), "own", True)
        finally:
            close_engines()

    return asyncio.run(read())


@pytest.mark.parametrize(("user", "auth", "priv"), agents.V3_MATRIX, ids=[u for u, _, _ in agents.V3_MATRIX])
async def test_v3_walks_the_same_rows_as_v2c_and_pysnmp(snmpd_port: int, v2c_rows: tuple[Any, ...], user: str,
                                                        auth: str | None, priv: str | None) -> None:
    rows, problems, scalars, _ = v2c_rows
    assert problems == [] and len(rows["sysORID"]) >= 5 and rows["ifDescr"]
    creds = _v3(user, auth, priv)
    for bulk in (True, False):
        own = await _read(snmpd_port, creds, "own", bulk)
        assert own == (rows, [], scalars, 0)
    assert not client._ENGINES.get(asyncio.get_running_loop())  # no pysnmp engine was made for it
    assert await _read(snmpd_port, creds, "pysnmp", True) == (rows, [], scalars, 0)


@pytest.mark.parametrize("engine", ["own", "pysnmp"])
@pytest.mark.parametrize(("user", "auth", "priv", "keys", "wait", "error", "message"), [
    ("u-sha256-aes256", "sha256", "aes256", {"auth_key": "not-the-key"}, 1.0, "UserOrAuthKeyRejected",
     'rejected the authentication of SNMPv3 user "u-sha256-aes256": wrong auth_key_file or auth_protocol (sha256)'),
    ("u-md5-des", "md5", "des", {"priv_key": "not-the-priv-key"}, 0.5, "SwitchAuthError",
     'answers SNMPv3 user "u-md5-des" but not its encrypted requests: wrong priv_key_file or priv_protocol (des)'),
    ("mallory", "sha", "aes128", {}, 1.0, "UserOrAuthKeyRejected",
     'does not know SNMPv3 user "mallory": check the user name on the switch and in the config'),
], ids=["wrong_auth_key", "wrong_priv_key", "wrong_user"])
async def test_wrong_credentials(snmpd_port: int, engine: str, user: str, auth: str, priv: str, keys: dict[str, str],
                                 wait: float, error: str, message: str) -> None:
    s = Session(_target(snmpd_port, timeout=wait), _v3(user, auth, priv, **keys))
    s.v3_engine = engine
    with pytest.raises(SwitchAuthError) as e:
        await s.get(oids.SYSTEM)
    assert type(e.value).__name__ == error
    assert str(e.value) == f"127.0.0.1:{snmpd_port} {message}"


@pytest.mark.parametrize(("expected", "creds"), [
    # u-sha-aes128 may only read with privacy (rouser ... priv); asked without it, snmpd refuses.
    ("SourceError", _v3("u-sha-aes128", "sha", None)),
    # snmpd drops a request for a context it does not know (5.9 sends no snmpUnknownContexts)
    ("SwitchUnreachable", Credentials("3", user="u-sha-none", auth_protocol="sha", auth_key=agents.AUTH_KEY,
                                      context="vlan-5")),
    ("UserOrAuthKeyRejected", _v3("u-sha-none", "md5", None)),
])
async def test_other_refusals_give_the_same_error_as_pysnmp(snmpd_port: int, expected: str,
                                                            creds: Credentials) -> None:
    errors = []
    for engine in ("own", "pysnmp"):
        s = Session(_target(snmpd_port, timeout=0.3, retries=0), creds)
        s.v3_engine = engine
        with pytest.raises(SourceError) as e:
            await s.get(oids.SYSTEM)
        errors.append((type(e.value), str(e.value)))
    assert errors[0] == errors[1]
    assert errors[0][0].__name__ == expected


async def test_time_window_resync_and_engine_change(snmpd_port: int) -> None:
    s = Session(_target(snmpd_port), _v3("u-sha-aes128", "sha", "aes128"))
    assert (await s.get(STATIC_SCALARS))["sysName"]
    assert s._channel is not None and s._agent is not None
    engine = s._channel.engines[s._agent[1]]
    real = (engine.boots, engine.time)
    requests = s.stats.requests
    # Our clock of its engine an hour ahead: snmpd reports notInTimeWindow, we resync and retry.
    engine.time += 3600
    assert (await s.get(STATIC_SCALARS))["sysName"]
    assert engine.boots == real[0] and abs(engine.time - real[1]) < 30
    # Another engine id (a replaced switch): unknownEngineID, discovered again.
    engine.engine_id = b"\x80\x00\x1f\x88\x04not-this-one"
    assert (await s.get(STATIC_SCALARS))["sysName"]
    again = s._channel.engines[s._agent[1]]
    assert again is not engine and again.engine_id != engine.engine_id
    assert s.stats.requests == requests + 2
    assert s._channel.v3_waiting == 0 and not s._channel.pending  # nothing left behind


class _Tamper(asyncio.DatagramProtocol):
    """A relay between the sensor and snmpd that flips the last octet of every authenticated
    answer: what an attacker or a broken agent would send (snmpd cannot be made to)."""

    def __init__(self, agent_port: int) -> None:
        self.agent = ("127.0.0.1", agent_port)
        self.client: tuple[str, int] | None = None
        self.tampered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr == self.agent:
            if self.client is None:
                return
            if usm.parse(data).flags & usm.FLAG_AUTH:
                data = data[:-1] + bytes((data[-1] ^ 1,))
                self.tampered += 1
            self.transport.sendto(data, self.client)
        else:
            self.client = addr
            self.transport.sendto(data, self.agent)


def _tamper(agent_port: int) -> contextlib.AbstractAsyncContextManager[tuple[_Tamper, int]]:
    return agents.udp_endpoint(lambda: _Tamper(agent_port))


async def test_unauthentic_answers_are_counted_and_dropped(snmpd_port: int) -> None:
    async with _tamper(snmpd_port) as (relay, port):
        s = Session(_target(port, timeout=0.3, retries=1), _v3("u-sha-aes128", "sha", "aes128"))
        with pytest.raises(SourceError) as e:
            await s.get(STATIC_SCALARS)
    assert relay.tampered == 2 and s.stats.dropped == 2  # the request and its one resend
    assert s._channel is not None and s._channel.v3_waiting == 0 and not s._channel.pending
    assert not isinstance(e.value, SwitchAuthError | SwitchUnreachable)
    assert str(e.value) == (f"127.0.0.1:{port} answered with a message the sensor cannot decode or authenticate "
                            "(SNMPv3 message failed authentication): check the SNMPv3 keys and the agent's "
                            "firmware")


# Cisco's AES-192/256 key extension (Reeder's), which net-snmp does not speak: snmpsim (pysnmp's agent
# side) does. md5 and sha give shorter keys than AES-192/256 need, so the extension is exercised.
SIM_USERS = [("u-md5-aes192c", "md5", "aes192c", "MD5", "AES192"), ("u-sha-aes256c", "sha", "aes256c", "SHA", "AES256"),
             ("u-md5-aes256", "md5", "aes256", "MD5", "AES256BLMT")]
SIM_DEVICE = "edgecos_es3510ma"


@pytest.fixture(scope="module")
def snmpsim_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if SIM_DEVICE not in agents.corpus_devices():
        pytest.skip(f"SNMP corpus not found at {agents.CORPUS} (../shared is absent)")
    data = tmp_path_factory.mktemp("snmpsim") / "data"
    data.mkdir()
    agents.shutil.copyfile(agents.CORPUS / SIM_DEVICE / "device.snmprec", data / f"{SIM_DEVICE}.snmprec")
    with agents.snmpsim(data, SIM_DEVICE, v3_users=[(u, a, p) for u, _, _, a, p in SIM_USERS]) as port:
        yield port


@pytest.mark.parametrize(("user", "auth", "priv"), [u[:3] for u in SIM_USERS], ids=[u[0] for u in SIM_USERS])
async def test_cisco_aes_key_extension_against_snmpsim(snmpsim_port: int, user: str, auth: str, priv: str) -> None:
    tables = oids.IF_TABLE | oids.IFX_TABLE
    v2c = Session(_target(snmpsim_port, reps=5), Credentials("2c", community=SIM_DEVICE))
    expected = await v2c.walk(tables)
    assert expected[0]["ifDescr"]
    for engine in ("own", "pysnmp"):
        creds = Credentials("3", user=user, auth_protocol=auth, auth_key=agents.AUTH_KEY, priv_protocol=priv,
                            priv_key=agents.PRIV_KEY, context=SIM_DEVICE)
        s = Session(_target(snmpsim_port, reps=5), creds)
        s.v3_engine = engine
        assert await s.walk(tables) == expected
        assert s.stats.dropped == 0
