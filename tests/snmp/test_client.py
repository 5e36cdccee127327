"""The SNMP I/O against real agents: net-snmp's snmpd (v1, v2c, every USM combination) and
a scripted agent that loops, ignores GETBULK or never ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from collectors.snmp import oids
from collectors.snmp.client import Credentials, Session, Target, close_engines
from sensor.errors import SourceError, SwitchAuthError, SwitchUnreachable
from tests.snmp import agents

pytestmark = pytest.mark.skipif(agents.shutil.which("snmpd") is None, reason="net-snmp snmpd is not installed")


@pytest.fixture(autouse=True)
async def _engines() -> AsyncIterator[None]:
    yield
    close_engines()


def _target(port: int, **kw: float) -> Target:
    return Target("127.0.0.1", port, timeout=kw.get("timeout", 1.0), retries=int(kw.get("retries", 1)))


@pytest.mark.parametrize("version", ["1", "2c"])
async def test_community_get_and_walk(snmpd_port: int, version: str) -> None:
    s = Session(_target(snmpd_port), Credentials(version, community="public"))
    system = await s.get(oids.SYSTEM)
    assert isinstance(system["sysName"], bytes) and system["sysName"]
    assert str(system["sysObjectID"]).startswith("1.3.6.1.4.1.8072")
    assert "dot1dBaseBridgeAddress" not in system  # net-snmp has no BRIDGE-MIB: left out, not an error
    rows, problems = await s.walk(oids.IF_TABLE | oids.IFX_TABLE)
    assert problems == []
    assert (1,) in rows["ifDescr"] and rows["ifDescr"][(1,)] == b"lo"
    assert set(rows["ifName"]) == set(rows["ifDescr"])
    assert s.stats.requests >= 2
    # v1 never uses GETBULK; v2c does
    assert s.use_bulk is (version == "2c")


@pytest.mark.parametrize(("user", "auth", "priv"), agents.V3_USERS)
async def test_usm_auth_and_priv(snmpd_port: int, user: str, auth: str, priv: str | None) -> None:
    creds = Credentials("3", user=user, auth_protocol=auth, auth_key=agents.AUTH_KEY,
                        priv_protocol=priv, priv_key=agents.PRIV_KEY if priv else None)
    system = await Session(_target(snmpd_port), creds).get(oids.SYSTEM)
    assert system["sysName"]


async def test_wrong_auth_key_is_an_auth_error(snmpd_port: int) -> None:
    creds = Credentials("3", user="usha256", auth_protocol="sha256", auth_key="not-the-key",
                        priv_protocol="aes256", priv_key=agents.PRIV_KEY)
    with pytest.raises(SwitchAuthError, match=r'rejected the authentication of SNMPv3 user "usha256": wrong '
                                              r"auth_key_file or auth_protocol"):
        await Session(_target(snmpd_port), creds).get(oids.SYSTEM)


async def test_wrong_priv_key_is_an_auth_error_not_a_timeout(snmpd_port: int) -> None:
    creds = Credentials("3", user="usha", auth_protocol="sha", auth_key=agents.AUTH_KEY,
                        priv_protocol="aes128", priv_key="not-the-priv-key")
    with pytest.raises(SwitchAuthError, match="wrong priv_key_file or priv_protocol"):
        await Session(_target(snmpd_port, timeout=0.5), creds).get(oids.SYSTEM)


async def test_unknown_user(snmpd_port: int) -> None:
    creds = Credentials("3", user="mallory", auth_protocol="sha", auth_key=agents.AUTH_KEY)
    with pytest.raises(SwitchAuthError, match='does not know SNMPv3 user "mallory"'):
        await Session(_target(snmpd_port), creds).get(oids.SYSTEM)


async def test_same_user_different_keys_on_two_agents_do_not_interfere(snmpd_port: int) -> None:
    good = Credentials("3", user="usha", auth_protocol="sha", auth_key=agents.AUTH_KEY,
                       priv_protocol="aes128", priv_key=agents.PRIV_KEY)
    bad = Credentials("3", user="usha", auth_protocol="sha", auth_key="other-key-999",
                      priv_protocol="aes128", priv_key=agents.PRIV_KEY)
    with pytest.raises(SwitchAuthError):
        await Session(_target(snmpd_port), bad).get(oids.SYSTEM)
    assert (await Session(_target(snmpd_port), good).get(oids.SYSTEM))["sysName"]


async def test_timeout_message() -> None:
    port = agents.free_udp_port()  # nothing listens there
    s = Session(Target("127.0.0.1", port, timeout=0.3, retries=1), Credentials("2c", community="x"))
    with pytest.raises(SwitchUnreachable) as e:
        await s.get(oids.SYSTEM)
    assert str(e.value) == (f"no answer from 127.0.0.1:{port} within 0.6s (check the address, UDP/{port} "
                            "reachability and the community: agents silently drop a wrong one)")


# --- misbehaving agents --------------------------------------------------------------------

COL = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)  # ifDescr
ROWS = {(*COL, i): f"port{i}".encode() for i in range(1, 101)}


async def test_multi_column_bulk_walk_with_ragged_columns() -> None:
    rows = dict(ROWS)
    rows.update({(*oids.IF_TABLE["ifType"], i): 6 for i in (1, 50)})  # a sparse column
    async with agents.fake_agent(agents.table_responder(rows)) as (agent, port):
        s = Session(Target("127.0.0.1", port, timeout=0.5, retries=0, max_repetitions=7),
                    Credentials("2c", community="c"))
        got, problems = await s.walk({"ifDescr": COL, "ifType": oids.IF_TABLE["ifType"]})
    assert problems == []
    assert got["ifDescr"] == {(i,): f"port{i}".encode() for i in range(1, 101)}
    assert got["ifType"] == {(1,): 6, (50,): 6}
    assert set(agent.requests) == {"bulk"}
    assert 100 / 7 <= len(agent.requests) <= 100 / 7 + 2


async def test_agent_that_ignores_getbulk_is_walked_with_getnext() -> None:
    async with agents.fake_agent(agents.table_responder(ROWS, bulk=False)) as (agent, port):
        s = Session(Target("127.0.0.1", port, timeout=0.3, retries=0), Credentials("2c", community="c"))
        got, problems = await s.walk({"ifDescr": COL})
        again, _ = await s.walk({"ifDescr": COL})
    assert problems == [] and len(got["ifDescr"]) == 100 and again == got
    assert agent.requests.count("bulk") == 1  # tried once, then GETNEXT for the rest of the session
    assert s.stats.bulk_fallback and "walking with GETNEXT" in s.stats.notes[0]


async def test_agent_loop_is_detected() -> None:
    def looping(kind: str, asked: list[tuple[tuple[int, ...], object]], reps: int) -> object:
        # Answers every request with the same two rows: the second request goes backwards.
        return [((*COL, 1), b"a"), ((*COL, 2), b"b")] if kind == "bulk" else None

    async with agents.fake_agent(looping) as (agent, port):
        s = Session(Target("127.0.0.1", port, timeout=0.3, retries=0), Credentials("2c", community="c"))
        got, problems = await s.walk({"ifDescr": COL})
    assert got["ifDescr"] == {(1,): b"a", (2,): b"b"}
    assert len(problems) == 1 and "non-increasing OID" in problems[0] and "agent loop" in problems[0]
    assert len(agent.requests) == 2


async def test_max_rows_stops_an_endless_table() -> None:
    def endless(kind: str, asked: list[tuple[tuple[int, ...], object]], reps: int) -> object:
        o = asked[0][0]
        nxt = o[-1] + 1 if len(o) > len(COL) else 1
        return [((*COL, nxt + i), b"x") for i in range(reps)]

    async with agents.fake_agent(endless) as (_, port):
        s = Session(Target("127.0.0.1", port, timeout=0.3, retries=0, max_repetitions=25, max_rows=1000),
                    Credentials("2c", community="c"))
        got, problems = await s.walk({"ifDescr": COL})
    assert len(got["ifDescr"]) == 1000
    assert problems == ["ifDescr: stopped at 1000 rows (max_rows)"]


async def test_too_big_halves_max_repetitions() -> None:
    seen: list[int] = []
    inner = agents.table_responder(ROWS)

    def picky(kind: str, asked: list[tuple[tuple[int, ...], object]], reps: int) -> object:
        if kind == "bulk":
            seen.append(reps)
            if reps > 5:
                return 1  # tooBig
        return inner(kind, asked, reps)

    async with agents.fake_agent(picky) as (_, port):
        s = Session(Target("127.0.0.1", port, timeout=0.2, retries=0, max_repetitions=20),
                    Credentials("2c", community="c"))
        got, problems = await s.walk({"ifDescr": COL})
    assert len(got["ifDescr"]) == 100 and problems == []
    assert seen[:3] == [20, 10, 5] and set(seen[3:]) == {5}  # halved once for the session, bulk kept


async def test_generr_on_getbulk_falls_back_to_getnext() -> None:
    inner = agents.table_responder(ROWS)

    def no_bulk(kind: str, asked: list[tuple[tuple[int, ...], object]], reps: int) -> object:
        return 5 if kind == "bulk" else inner(kind, asked, reps)

    async with agents.fake_agent(no_bulk) as (agent, port):
        s = Session(Target("127.0.0.1", port, timeout=0.2, retries=0), Credentials("2c", community="c"))
        got, _ = await s.walk({"ifDescr": COL})
    assert len(got["ifDescr"]) == 100 and agent.requests.count("bulk") == 1


class _Garbage(agents.asyncio.DatagramProtocol):
    """Answers every request with a truncated message (nothing real sends this on purpose)."""

    def connection_made(self, transport: agents.asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data[: len(data) // 2], addr)  # type: ignore[attr-defined]


async def test_undecodable_answers_are_one_clear_source_error() -> None:
    loop = agents.asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_Garbage, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        s = Session(Target("127.0.0.1", port, timeout=0.2, retries=1), Credentials("2c", community="c"))
        with pytest.raises(SourceError) as e:
            await s.get(oids.SYSTEM)
    finally:
        transport.close()
    assert not isinstance(e.value, SwitchUnreachable)
    assert str(e.value).startswith(f"127.0.0.1:{port} answered with a message the sensor cannot decode "
                                   "(malformed SNMP message: ")


async def test_answers_from_another_address_are_dropped() -> None:
    loop = agents.asyncio.get_running_loop()
    other, _ = await loop.create_datagram_endpoint(agents.asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    async with agents.fake_agent(agents.table_responder(ROWS)) as (agent, port):
        real = agent.transport
        agent.transport = other  # the right answer, from the wrong port
        s = Session(Target("127.0.0.1", port, timeout=0.2, retries=0), Credentials("2c", community="c"))
        try:
            with pytest.raises(SwitchUnreachable):
                await s.get({"ifDescr.1": (*COL, 1)})
            agent.transport = real
            assert await s.get({"ifDescr.1": (*COL, 1)}) == {"ifDescr.1": b"port1"}
        finally:
            other.close()


async def test_the_shared_socket_asks_for_a_receive_buffer_for_a_campus() -> None:
    # Every switch polled at once answers into one socket; the 208 KiB default dropped answers at
    # 1,000 switches whenever a correlation held the event loop (retries, then failed polls).
    import socket
    from pathlib import Path

    from collectors.snmp.client import RCVBUF, channel_for
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())  # noqa: ASYNC240 (procfs, instant)
    ch = await channel_for(socket.AF_INET)
    assert ch.rcvbuf >= 2 * min(RCVBUF, rmem_max), (ch.rcvbuf, rmem_max)  # Linux reports twice the size
