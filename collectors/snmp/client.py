"""Thin SNMP I/O on pysnmp 7's asyncio engine: GET, and table walks we drive ourselves.

Everything here is about talking to one agent: credentials, requests, retries,
walking columns with GETBULK (or GETNEXT), detecting agents that loop, and turning
pysnmp's error indications into one-line messages. What the answers mean is decided
in ``decode``.

Speed: v1/v2c requests and responses never touch pysnmp: requests are encoded and
responses decoded by ``ber`` (pyasn1 decoding was three quarters of the collector's CPU),
over one UDP socket per event loop, answers matched to requests by request-id and agent
address. SNMPv3 goes the same way: ``usm`` builds and checks the messages (USM
authentication and privacy; pysnmp's engine cost about 15 times the CPU per varbind),
engines are discovered once per agent and socket, keys localized once per engine.
pysnmp's engine stays behind ``Session.v3_engine = "pysnmp"`` to compare against (tests,
bench/snmp_walk.py --v3); the collector does not use it. All paths hand the walks plain
Python: (OID tuple, value or None) per varbind.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import socket
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from pyasn1.type import univ
from pysnmp.proto import errind

# pysnmp's engine and high-level API (with pysmi, Jinja2 and requests behind them) are ~25 MB of a
# process's memory and only SNMPv3 needs them: imported where a v3 session first uses them.
if TYPE_CHECKING:
    from pysnmp.entity.engine import SnmpEngine
    from pysnmp.hlapi.v3arch.asyncio import CommunityData, UsmUserData

from collectors.errors import SourceError, SwitchAuthError, SwitchUnreachable, TableError
from collectors.snmp import ber, usm
from collectors.snmp.decode import OID, Column, Value

# Names in pysnmp.hlapi.v3arch.asyncio.auth.
AUTH_PROTOCOLS: dict[str, str] = {
    "md5": "USM_AUTH_HMAC96_MD5",
    "sha": "USM_AUTH_HMAC96_SHA",
    "sha224": "USM_AUTH_HMAC128_SHA224",
    "sha256": "USM_AUTH_HMAC192_SHA256",
    "sha384": "USM_AUTH_HMAC256_SHA384",
    "sha512": "USM_AUTH_HMAC384_SHA512",
}
# aes192/aes256 extend the key as net-snmp and most agents do (draft-blumenthal-aes-usm);
# aes192c/aes256c are Cisco's variant (draft-reeder-snmpv3-usm-3desede key extension).
PRIV_PROTOCOLS: dict[str, str] = {
    "des": "USM_PRIV_CBC56_DES",
    "aes128": "USM_PRIV_CFB128_AES",
    "aes192": "USM_PRIV_CFB192_AES_BLUMENTHAL",
    "aes256": "USM_PRIV_CFB256_AES_BLUMENTHAL",
    "aes192c": "USM_PRIV_CFB192_AES",
    "aes256c": "USM_PRIV_CFB256_AES",
}

_NULL = univ.Null("")
_NO_SUCH_NAME, _TOO_BIG = 2, 1
_UNKNOWN_CONTEXT = "1.3.6.1.6.3.12.1.5.0"
_PDU_TYPES = {"get": ber.GET, "next": ber.GET_NEXT, "bulk": ber.GET_BULK}

VarbindList = list[tuple[OID, int, Value | None]]  # (OID, value tag, value): ber.Varbind


@dataclass(frozen=True, repr=False)
class Credentials:
    """How to authenticate to one agent. ``repr`` never shows a secret."""

    version: str  # "1", "2c" or "3"
    community: str = ""
    user: str = ""
    auth_protocol: str | None = None
    auth_key: str | None = None
    priv_protocol: str | None = None
    priv_key: str | None = None
    context: str = ""

    def __repr__(self) -> str:
        who = f"user={self.user!r}" if self.version == "3" else "community=<hidden>"
        return f"Credentials(v{self.version}, {who}, context={self.context!r})"

    def for_vlan(self, vlan: int) -> Credentials:
        """Cisco per-VLAN bridge instance: ``community@vlan`` on v1/v2c, context ``vlan-N`` on v3."""
        if self.version == "3":
            return Credentials(**{**self.__dict__, "context": f"vlan-{vlan}"})
        return Credentials(**{**self.__dict__, "community": f"{self.community}@{vlan}"})

    @property
    def security_level(self) -> str:
        if self.priv_protocol:
            return "authPriv"
        return "authNoPriv" if self.auth_protocol else "noAuthNoPriv"

    def engine_key(self) -> str:
        if self.version != "3":
            return "community"
        h = hashlib.sha256()
        for part in (self.user, self.auth_protocol, self.auth_key, self.priv_protocol, self.priv_key):
            h.update(repr(part).encode() + b"\0")
        return "usm:" + h.hexdigest()

    def auth_data(self) -> CommunityData | UsmUserData:
        from pysnmp.hlapi.v3arch.asyncio import CommunityData, UsmUserData
        from pysnmp.hlapi.v3arch.asyncio import auth as hlauth

        if self.version in ("1", "2c"):
            return CommunityData(self.community, mpModel=0 if self.version == "1" else 1)
        return UsmUserData(
            self.user,
            authKey=self.auth_key if self.auth_protocol else None,
            privKey=self.priv_key if self.priv_protocol else None,
            authProtocol=getattr(hlauth, AUTH_PROTOCOLS[self.auth_protocol] if self.auth_protocol
                                 else "USM_AUTH_NONE"),
            privProtocol=getattr(hlauth, PRIV_PROTOCOLS[self.priv_protocol] if self.priv_protocol
                                 else "USM_PRIV_NONE"),
        )


@dataclass(frozen=True)
class Target:
    host: str
    port: int = 161
    timeout: float = 2.0
    retries: int = 2
    max_repetitions: int = 20
    bulk: bool = True
    max_rows: int = 100_000

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


# --- engines ---------------------------------------------------------------------------

_ENGINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SnmpEngine]] = (
    weakref.WeakKeyDictionary()
)


def engine_for(creds: Credentials) -> SnmpEngine:
    """The engine of this event loop for these credentials (created once, then reused)."""
    loop = asyncio.get_running_loop()
    engines = _ENGINES.setdefault(loop, {})
    key = creds.engine_key()
    if key not in engines:
        from pysnmp.entity.engine import SnmpEngine

        engines[key] = SnmpEngine()
    return engines[key]


def close_engines() -> None:
    """Close this loop's engines and v1/v2c sockets (call before the loop ends)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for engine in _ENGINES.pop(loop, {}).values():
        engine.close_dispatcher()
    for channel in _CHANNELS.pop(loop, {}).values():
        channel.close()


# --- v1/v2c sockets ---------------------------------------------------------------------------


class _Channel(asyncio.DatagramProtocol):
    """The one UDP socket of an event loop (per address family) for every v1/v2c agent.

    One socket, as pysnmp had, so that a thousand switches do not take a thousand file
    descriptors. Answers are decoded here and handed to the request waiting for their
    request-id, if they come from that request's agent with its version and community;
    anything else (a late duplicate after a retry, a stranger) is dropped, as pysnmp drops
    it. A datagram that does not decode, from an agent with a request outstanding, is kept
    so that the request, if it then times out, can say why.
    """

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.opened: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: dict[int, _Waiter] = {}
        self.waiting_agents: dict[tuple[str, int], int] = {}  # outstanding requests per agent
        self.malformed: dict[tuple[str, int], tuple[int, str]] = {}  # agents with requests only
        self._next_id = random.randrange(1, 1 << 30)
        self.v3_waiting = 0  # outstanding SNMPv3 requests: only then are datagrams tried as v3
        self.engines: dict[tuple[str, int], _Engine] = {}  # SNMPv3 agents' engines, once discovered
        self.discovering: dict[tuple[str, int], asyncio.Future[_Engine]] = {}
        # The privacy salt: unique per message under one key (RFC 3414 8.1.1.1, RFC 3826 3.1.2.1).
        self._salt = random.getrandbits(64)
        self.rcvbuf = 0  # the socket's receive buffer as granted (Linux reports twice the bytes usable)

    def new_salt(self) -> int:
        self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
        return self._salt

    def new_request_id(self) -> int:
        self._next_id = self._next_id % 0x7FFFFFFF + 1
        return self._next_id

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.loop = asyncio.get_running_loop()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        agent = (addr[0], addr[1])
        if self.v3_waiting and (msg_id := usm.peek_msg_id(data)) is not None:
            self._v3_received(data, msg_id, agent)
            return
        try:
            rsp = ber.decode_response(data)
        except ber.BerError as e:
            if agent in self.waiting_agents:
                count, _ = self.malformed.get(agent, (0, ""))
                self.malformed[agent] = (count + 1, str(e))
            return
        w = self.pending.get(rsp.request_id)
        if w is None:
            return
        if agent == w.agent and rsp.version == w.version and rsp.community == w.community:
            del self.pending[rsp.request_id]
            w.finish(rsp)

    def _v3_received(self, data: bytes, msg_id: int, agent: tuple[str, int]) -> None:
        w = self.pending.get(msg_id)
        if w is None or w.check is None or w.agent != agent:
            return  # late, or a stranger's: as for v1/v2c
        try:
            opened = w.check(data)
        except ber.BerError as e:  # malformed or unauthenticated: dropped; the request keeps waiting
            count, _ = self.malformed.get(agent, (0, ""))
            self.malformed[agent] = (count + 1, str(e))
            return
        self.remove(msg_id)
        w.finish(opened)

    def remove(self, request_id: int) -> _Waiter | None:
        """Take a request out of those waiting for an answer."""
        w = self.pending.pop(request_id, None)
        if w is not None and w.check is not None:
            w.check = None
            self.v3_waiting -= 1
        return w

    def send(self, message: bytes, request_id: int, version: int, community: bytes, agent: tuple[str, int],
             timeout: float, retries: int, check: Callable[[bytes], usm.Opened] | None = None
             ) -> asyncio.Future[Any]:
        """Send a request; the future gets its answer, or None after ``retries`` resends time out.

        Each request has one timer, re-armed at each resend, instead of a wait_for per try:
        on a campus poll the per-request asyncio machinery cost more CPU than decoding.
        """
        assert self.transport is not None
        w = _Waiter(self, message, version, community, agent, timeout, retries)
        w.check = check
        if check is not None:
            self.v3_waiting += 1
        self.pending[request_id] = w
        self.waiting_agents[agent] = self.waiting_agents.get(agent, 0) + 1
        self.transport.sendto(message, agent)
        w.timer = w.fut.get_loop().call_later(timeout, w.expire, request_id)
        return w.fut

    async def exchange(self, message: bytes, request_id: int, version: int, community: bytes,
                       agent: tuple[str, int], resend_after: float, retries: int,
                       check: Callable[[bytes], usm.Opened] | None = None
                       ) -> tuple[ber.Response | usm.Opened | None, str]:
        """``send``, wait and ``forget``: (the answer, "") or, with none, (None, why the agent's
        last datagram did not decode, "" if it sent none)."""
        try:
            rsp = await self.send(message, request_id, version, community, agent, resend_after, retries, check)
            return rsp, "" if rsp is not None else self.malformed.get(agent, (0, ""))[1]
        finally:
            self.forget(request_id, agent)

    def forget(self, request_id: int, agent: tuple[str, int]) -> None:
        """The request is over (answered, timed out or cancelled): drop what it left behind."""
        w = self.remove(request_id)
        if w is not None and w.timer is not None:
            w.timer.cancel()
        left = self.waiting_agents.pop(agent, 1) - 1
        if left > 0:
            self.waiting_agents[agent] = left
        else:
            self.malformed.pop(agent, None)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors: the request times out with the usual message

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Waiter:
    """One outstanding v1/v2c request: what an answer must match, and its retry timer."""

    __slots__ = ("agent", "channel", "check", "community", "fut", "message", "retries", "timeout", "timer",
                 "version")

    def __init__(self, channel: _Channel, message: bytes, version: int, community: bytes, agent: tuple[str, int],
                 timeout: float, retries: int) -> None:
        self.channel, self.message, self.version, self.community = channel, message, version, community
        self.agent, self.timeout, self.retries = agent, timeout, retries
        assert channel.loop is not None
        self.fut: asyncio.Future[Any] = channel.loop.create_future()
        self.timer: asyncio.TimerHandle | None = None
        # SNMPv3: checks and opens an answer (usm.UsmError: dropped, keep waiting)
        self.check: Callable[[bytes], usm.Opened] | None = None

    def finish(self, rsp: ber.Response | usm.Opened | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.fut.done():
            self.fut.set_result(rsp)

    def expire(self, request_id: int) -> None:
        ch = self.channel
        if ch.pending.get(request_id) is not self:
            return
        if self.retries > 0 and ch.transport is not None and not ch.transport.is_closing():
            self.retries -= 1
            ch.transport.sendto(self.message, self.agent)
            self.timer = self.fut.get_loop().call_later(self.timeout, self.expire, request_id)
            return
        ch.remove(request_id)
        self.timer = None
        self.finish(None)


@dataclass
class _Engine:
    """An SNMPv3 agent's engine as last heard: id, boots, and its time at ``at`` (loop time)."""

    engine_id: bytes
    boots: int
    time: int
    at: float

    def clock(self, now: float) -> tuple[int, int]:
        return self.boots, min(self.time + int(now - self.at), (1 << 31) - 1)

    def heard(self, boots: int, time: int, now: float) -> None:
        """An authenticated message's clock, kept if it is later (RFC 3414 section 3.2 step 7b)."""
        if boots > self.boots or (boots == self.boots and time > self.clock(now)[1]):
            self.boots, self.time, self.at = boots, time, now


# The one socket takes every answer of every switch polled at once. A full default buffer (208 KiB
# on Debian) drops answers whenever the event loop is busy for a moment (a 50,000-device correlation),
# and a dropped answer is a retry after the timeout, or a switch's poll failing. The kernel caps the
# request at net.core.rmem_max (the appliance image raises it); the size granted is in ``rcvbuf``.
RCVBUF = 4 << 20

_CHANNELS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, _Channel]] = (
    weakref.WeakKeyDictionary()
)


async def channel_for(family: int) -> _Channel:
    """This event loop's v1/v2c socket for ``family`` (opened once, then shared by every session)."""
    loop = asyncio.get_running_loop()
    channels = _CHANNELS.setdefault(loop, {})
    ch = channels.get(family)
    if ch is None:
        ch = channels[family] = _Channel()
        new = ch
        local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)

        async def open_() -> None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
                sock.bind(local)
                sock.setblocking(False)
                new.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                await loop.create_datagram_endpoint(lambda: new, sock=sock)
            except OSError:
                sock.close()
                raise

        ch.opened = asyncio.ensure_future(open_())
    assert ch.opened is not None
    try:
        await asyncio.shield(ch.opened)
    except OSError as e:
        if channels.get(family) is ch:
            del channels[family]
        raise SourceError(f"cannot open a UDP socket for SNMP: {e.strerror or e}") from None
    return ch


async def resolve(host: str, port: int) -> tuple[int, tuple[str, int]]:
    """(address family, (numeric address, port)) of an agent, as answers will come from it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=family, type=socket.SOCK_DGRAM)
    except OSError as e:
        raise SwitchUnreachable(f"cannot resolve {host}: {e}") from None
    if not infos:
        raise SwitchUnreachable(f"cannot resolve {host}: no address")
    sockaddr = infos[0][4]
    return family, (str(sockaddr[0]), int(sockaddr[1]))


# --- values -----------------------------------------------------------------------------


def to_python(value: Any) -> Value | None:
    """A pysnmp value as bytes/int/str(OID); None for NULL and the v2 exceptions."""
    if isinstance(value, univ.Null):  # pyasn1's Null is an OctetString: test it first
        return None
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(x) for x in value.asTuple())
    return None


def _tag(value: Any) -> int:
    """A pysnmp value's BER tag octet, as ``ber`` reports it."""
    t = value.tagSet[0]
    return int(t.tagClass | t.tagFormat | t.tagId)


@dataclass
class WalkStats:
    requests: int = 0
    varbinds: int = 0
    bulk_fallback: bool = False
    dropped: int = 0  # SNMPv3 answers that were malformed or failed authentication
    notes: list[str] = field(default_factory=list)


class UserOrAuthKeyRejected(SwitchAuthError):
    """The agent does not know the SNMPv3 user, or rejected its authentication key."""


# What an SNMPv3 refusal means, from usm's report counters and from pysnmp's error indications.
_REPORTS: dict[OID, str] = {
    usm.UNKNOWN_USER_NAMES: "unknown_user",
    usm.WRONG_DIGESTS: "wrong_digest",
    usm.DECRYPTION_ERRORS: "decryption",
    usm.UNSUPPORTED_SEC_LEVELS: "security_level",
    usm.NOT_IN_TIME_WINDOWS: "time_window",
    usm.UNKNOWN_CONTEXTS: "unknown_context",
}
_ERRIND_KINDS: list[tuple[type[Any] | tuple[type[Any], ...], str]] = [
    (errind.UnknownUserName, "unknown_user"),
    (errind.WrongDigest, "wrong_digest"),
    (errind.DecryptionError, "decryption"),
    (errind.UnsupportedSecurityLevel, "security_level"),
    ((errind.AuthenticationFailure, errind.AuthenticationError), "authentication"),
    (errind.NotInTimeWindow, "time_window"),
]


class _ColumnEnded(Exception):
    """SNMPv1 GETNEXT noSuchName: the column at ``position`` (0-based) is past its end."""

    def __init__(self, position: int) -> None:
        self.position = position


# --- a session with one agent --------------------------------------------------------------


def _password(secret: str | None) -> bytes:
    # pysnmp took passwords as pyasn1 OctetStrings, which encode text as ISO-8859-1: the same
    # keys here. What ISO-8859-1 cannot encode (pysnmp failed on it) goes as UTF-8, as net-snmp.
    text = secret or ""
    try:
        return text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return text.encode()


class Session:
    """Requests to one agent with one set of credentials.

    ``walk`` and ``get`` raise SwitchUnreachable on timeout, SwitchAuthError when the
    agent refuses the credentials, and SourceError for anything else, each with a
    one-line message naming the agent.
    """

    def __init__(self, target: Target, creds: Credentials, stats: WalkStats | None = None,
                 concurrency: int = 4) -> None:
        self.target = target
        self.creds = creds
        self.stats = stats or WalkStats()
        self.use_bulk = target.bulk and creds.version != "1"
        self.max_repetitions = target.max_repetitions
        self._addr_name: str | None = None
        self._engine: SnmpEngine | None = None
        self._agent: tuple[int, tuple[str, int]] | None = None
        self._channel: _Channel | None = None
        self._community = creds.community.encode()
        self._limit = asyncio.Semaphore(concurrency)
        self._user = creds.user.encode()
        self._auth_password = _password(creds.auth_key) if creds.auth_protocol else b""
        self._priv_password = _password(creds.priv_key) if creds.priv_protocol else b""
        self._context = creds.context.encode()
        self._last_keys: tuple[bytes, usm.Keys] | None = None

    # "own": SNMPv3 through ``usm``; "pysnmp": through pysnmp's engine (kept to compare against).
    v3_engine = "own"

    def for_vlan(self, vlan: int) -> Session:
        s = Session(self.target, self.creds.for_vlan(vlan), self.stats)
        s.use_bulk, s.max_repetitions = self.use_bulk, self.max_repetitions
        s._agent = self._agent
        s.v3_engine = self.v3_engine
        return s

    async def _open(self) -> tuple[SnmpEngine, str]:
        if self._engine is not None and self._addr_name is not None:
            return self._engine, self._addr_name
        from pysnmp.hlapi.v3arch.asyncio import UdpTransportTarget
        from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
        from pysnmp.hlapi.v3arch.asyncio.transport import Udp6TransportTarget

        engine = engine_for(self.creds)
        cls = Udp6TransportTarget if ":" in self.target.host else UdpTransportTarget
        try:
            transport = await cls.create(
                (self.target.host, self.target.port), timeout=self.target.timeout, retries=self.target.retries
            )
        except Exception as e:  # pysnmp wraps resolver errors in PySnmpError
            raise SwitchUnreachable(f"cannot resolve {self.target.host}: {e}") from None
        addr_name, _ = LCD.configure(engine, self.creds.auth_data(), transport, self.creds.context)
        self._engine, self._addr_name = engine, addr_name
        return engine, addr_name

    # -- one request --

    async def _request(self, kind: str, oids: Sequence[OID], max_repetitions: int = 0
                       ) -> tuple[int, int, VarbindList]:
        if self.creds.version == "3":
            if self.v3_engine == "pysnmp":
                return await self._request_v3(kind, oids, max_repetitions)
            return await self._request_usm(kind, oids, max_repetitions)
        ch, agent = await self._route()
        version = ber.VERSION_1 if self.creds.version == "1" else ber.VERSION_2C
        community = self._community
        request_id = ch.new_request_id()
        message = ber.encode_request(version, community, _PDU_TYPES[kind], request_id, oids, 0, max_repetitions)
        async with self._limit:
            answer, malformed = await ch.exchange(message, request_id, version, community, agent,
                                                  self.target.timeout, self.target.retries)
        self.stats.requests += 1
        if answer is None:
            raise self._no_answer(malformed, v3=False)
        rsp = cast(ber.Response, answer)  # no ``check``: a v1/v2c answer
        got: VarbindList = rsp.varbinds
        self.stats.varbinds += len(got)
        return rsp.error_status, rsp.error_index, got

    async def _route(self) -> tuple[_Channel, tuple[str, int]]:
        if self._agent is None:
            self._agent = await resolve(self.target.host, self.target.port)
        family, agent = self._agent
        ch = self._channel
        if ch is None or ch.transport is None or ch.transport.is_closing() or ch.loop is not asyncio.get_running_loop():
            ch = self._channel = await channel_for(family)
        return ch, agent

    # -- SNMPv3 with usm --

    async def _request_usm(self, kind: str, oids: Sequence[OID], max_repetitions: int
                           ) -> tuple[int, int, VarbindList]:
        ch, agent = await self._route()
        loop = asyncio.get_running_loop()
        resynced = rediscovered = False
        async with self._limit:
            while True:
                engine = ch.engines.get(agent) or await self._discover(ch, agent)
                keys = self._keys(engine.engine_id)
                msg_id = ch.new_request_id()
                boots, etime = engine.clock(loop.time())
                pdu = usm.request_pdu(_PDU_TYPES[kind], msg_id, oids, max_repetitions)
                message = usm.encode_request(keys, engine.engine_id, boots, etime, msg_id, self._context, pdu,
                                             ch.new_salt())
                opened = await self._exchange(ch, agent, message, msg_id, keys)
                rsp, incoming = opened.response, opened.incoming
                if opened.authenticated and incoming.engine_id == engine.engine_id:
                    engine.heard(incoming.boots, incoming.time, loop.time())
                if rsp.pdu_type != ber.REPORT:
                    break
                report = usm.report_oid(rsp)
                if report == usm.NOT_IN_TIME_WINDOWS and not resynced and incoming.engine_id == engine.engine_id:
                    # Our idea of its clock is off (it rebooted, or the first request): take the
                    # report's and retry once. Unauthenticated, it can only cost a retry.
                    resynced = True
                    engine.boots, engine.time, engine.at = incoming.boots, incoming.time, loop.time()
                    continue
                if report == usm.UNKNOWN_ENGINE_IDS and not rediscovered:
                    rediscovered = True  # another engine at this address now (a replaced switch)
                    if ch.engines.get(agent) is engine:
                        del ch.engines[agent]
                    continue
                raise self._usm_error(report)
        self.stats.requests += 1
        self.stats.varbinds += len(rsp.varbinds)
        return rsp.error_status, rsp.error_index, rsp.varbinds

    def _keys(self, engine_id: bytes) -> usm.Keys:
        if self._last_keys is not None and self._last_keys[0] == engine_id:
            return self._last_keys[1]
        c = self.creds
        try:
            keys = usm.localized_keys(self._user, c.auth_protocol, self._auth_password, c.priv_protocol,
                                      self._priv_password, engine_id)
        except ValueError as e:
            raise SwitchAuthError(f'{self.target.where}: SNMPv3 user "{c.user}": {e}') from None
        self._last_keys = (engine_id, keys)
        return keys

    async def _exchange(self, ch: _Channel, agent: tuple[str, int], message: bytes, msg_id: int,
                        keys: usm.Keys | None) -> usm.Opened:
        """Send one SNMPv3 message (resent on timeout) and wait for its checked answer."""
        stats = self.stats

        def check(data: bytes) -> usm.Opened:
            try:
                opened = usm.open_response(data, keys)
                rsp = opened.response
                if rsp.pdu_type == ber.RESPONSE and rsp.request_id != msg_id:
                    raise usm.UsmError(f"SNMPv3 response of request-id {rsp.request_id} to message {msg_id}")
            except ber.BerError:
                stats.dropped += 1
                raise
            return opened

        opened, malformed = await ch.exchange(message, msg_id, 3, b"", agent, self.target.timeout,
                                              self.target.retries, check)
        if opened is None:
            raise self._no_answer(malformed, v3=True)
        return cast(usm.Opened, opened)

    def _no_answer(self, malformed: str, v3: bool) -> SourceError:
        """The error of a request that got no answer: its agent's last undecodable datagram, or a timeout."""
        if not malformed:
            return self._error(errind.requestTimedOut)
        if v3:
            return ber.BerError(f"{self.target.where} answered with a message the sensor cannot decode or "
                                f"authenticate ({malformed}): check the SNMPv3 keys and the agent's firmware")
        return ber.BerError(f"{self.target.where} answered with a message the sensor cannot decode "
                            f"({malformed}): check the agent's SNMP implementation and firmware")

    async def _discover(self, ch: _Channel, agent: tuple[str, int]) -> _Engine:
        """The agent's engine id, boots and time (RFC 3414 section 4), once per agent and socket."""
        pending = ch.discovering.get(agent)
        if pending is None:
            pending = ch.discovering[agent] = asyncio.ensure_future(self._discovery(ch, agent))
            # Its error is raised to every session waiting; retrieved here too, so that a
            # discovery whose sessions were all cancelled does not log "never retrieved".
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done() and ch.discovering.get(agent) is pending:
                del ch.discovering[agent]

    async def _discovery(self, ch: _Channel, agent: tuple[str, int]) -> _Engine:
        msg_id = ch.new_request_id()
        message = usm.encode_request(None, b"", 0, 0, msg_id, b"", usm.discovery_pdu(msg_id), 0)
        opened = await self._exchange(ch, agent, message, msg_id, None)
        incoming = opened.incoming
        if usm.report_oid(opened.response) != usm.UNKNOWN_ENGINE_IDS or not incoming.engine_id:
            raise SourceError(f"{self.target.where} answered the SNMPv3 engine discovery without its engine ID: "
                              "check that the agent speaks SNMPv3")
        engine = _Engine(incoming.engine_id, incoming.boots, incoming.time, asyncio.get_running_loop().time())
        ch.engines[agent] = engine
        return engine

    def _usm_error(self, report: OID | None) -> SourceError:
        kind = _REPORTS.get(report) if report else None
        if kind is None:
            what = ".".join(map(str, report)) if report else "no varbind"
            return SourceError(f"{self.target.where}: the agent refused the request with a report ({what})")
        return self._refusal(kind)

    # -- SNMPv3 with pysnmp --

    async def _request_v3(self, kind: str, oids: Sequence[OID], max_repetitions: int
                          ) -> tuple[int, int, VarbindList]:
        from pysnmp.entity.rfc3413 import cmdgen
        from pysnmp.proto.rfc1902 import ObjectName

        engine, addr_name = await self._open()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[Any, int, int, Any]] = loop.create_future()

        def done(_engine: Any, _handle: Any, error_indication: Any, error_status: Any, error_index: Any,
                 var_binds: Any, _ctx: Any) -> None:
            if not fut.done():
                fut.set_result((error_indication, int(error_status or 0), int(error_index or 0), var_binds))

        var_binds = [(ObjectName(o), _NULL) for o in oids]
        context = self.creds.context.encode() if self.creds.context else b""
        async with self._limit:
            if kind == "bulk":
                cmdgen.BulkCommandGeneratorSingleRun().send_varbinds(
                    engine, addr_name, None, context, 0, max_repetitions, var_binds, done)
            elif kind == "next":
                cmdgen.NextCommandGeneratorSingleRun().send_varbinds(
                    engine, addr_name, None, context, var_binds, done)
            else:
                cmdgen.GetCommandGenerator().send_varbinds(engine, addr_name, None, context, var_binds, done)
            error_indication, status, index, got = await fut
        self.stats.requests += 1
        if error_indication:
            raise self._error(error_indication)
        converted: VarbindList = [(name.asTuple(), _tag(value), to_python(value)) for name, value in got or ()]
        self.stats.varbinds += len(converted)
        return status, index, converted

    def _error(self, ind: Any) -> SourceError:
        where, c = self.target.where, self.creds
        if isinstance(ind, errind.RequestTimedOut):
            total = self.target.timeout * (self.target.retries + 1)
            what = "the community: agents silently drop a wrong one" if c.version != "3" else "the SNMPv3 user"
            return SwitchUnreachable(
                f"no answer from {where} within {total:g}s (check the address, UDP/{self.target.port} "
                f"reachability and {what})"
            )
        for cls, kind in _ERRIND_KINDS:
            if isinstance(ind, cls):
                return self._refusal(kind)
        if _UNKNOWN_CONTEXT in str(ind):
            return self._refusal("unknown_context")
        return SourceError(f"{where}: {ind}")

    def _refusal(self, kind: str) -> SourceError:
        """The error for an agent's SNMPv3 refusal, the same from either engine."""
        where, c = self.target.where, self.creds
        user = f'SNMPv3 user "{c.user}"'
        if kind == "unknown_user":
            return UserOrAuthKeyRejected(
                f"{where} does not know {user}: check the user name on the switch and in the config")
        if kind == "wrong_digest":
            return UserOrAuthKeyRejected(
                f"{where} rejected the authentication of {user}: wrong auth_key_file or auth_protocol"
                f" ({c.auth_protocol})")
        if kind == "decryption":
            return SwitchAuthError(
                f"{where} could not decrypt the request of {user}: wrong priv_key_file or priv_protocol"
                f" ({c.priv_protocol})")
        if kind == "security_level":
            return SwitchAuthError(
                f"{where}: {user} is not allowed security level {c.security_level}: "
                "check auth_protocol/priv_protocol against the switch")
        if kind == "authentication":
            return SwitchAuthError(f"{where}: the answer failed authentication for {user}: check the keys")
        if kind == "time_window":
            return SwitchAuthError(f"{where}: SNMPv3 time window check failed for {user} (clock or engine boots)")
        return TableError(f'{where} does not know SNMP context "{c.context}"')

    # -- GET --

    async def get(self, oids: Mapping[str, OID]) -> dict[str, Value]:
        """GET scalars; missing ones are left out (v1 noSuchName retried without them)."""
        try:
            return await self._get(oids)
        except SwitchUnreachable:
            if self.creds.version == "3" and self.creds.priv_protocol:
                await self._probe_privacy()
            raise

    async def _probe_privacy(self) -> None:
        """After an authPriv timeout: does the agent answer the same user without encryption?

        Agents drop requests they cannot decrypt without a word, so a wrong privacy key
        looks like an unreachable switch. One authenticated, unencrypted GET of sysUpTime
        tells the two apart: any answer (data, or a report refusing the security level)
        means the switch and the auth key are fine and the privacy key or protocol is not.
        """
        c = self.creds
        probe = Session(Target(self.target.host, self.target.port, timeout=min(self.target.timeout, 2.0), retries=0),
                        Credentials(version="3", user=c.user, auth_protocol=c.auth_protocol, auth_key=c.auth_key,
                                    context=c.context))
        probe.v3_engine = self.v3_engine
        try:
            await probe._get({"sysUpTime": (1, 3, 6, 1, 2, 1, 1, 3, 0)})
        except SwitchUnreachable:
            return
        except UserOrAuthKeyRejected:
            raise
        except SourceError:  # any other answer: the switch and auth key are fine
            pass
        raise SwitchAuthError(
            f'{self.target.where} answers SNMPv3 user "{c.user}" but not its encrypted requests: '
            f"wrong priv_key_file or priv_protocol ({c.priv_protocol})")

    async def _get(self, oids: Mapping[str, OID]) -> dict[str, Value]:
        names = list(oids)
        out: dict[str, Value] = {}
        while names:
            status, index, got = await self._request("get", [oids[n] for n in names])
            if status == _NO_SUCH_NAME and 0 < index <= len(names):
                names.pop(index - 1)
                continue
            if status:
                raise SourceError(f"{self.target.where} answered GET with error-status {status}")
            for name, (_, _, v) in zip(names, got, strict=False):
                if v is not None:
                    out[name] = v
            break
        return out

    # -- walks --

    async def _fetch(self, cursors: list[OID], reps_cap: int | None = None) -> tuple[VarbindList, int]:
        """One round trip for ``cursors``: GETBULK when allowed, else GETNEXT; returns (varbinds, stride).

        ``reps_cap`` lowers max-repetitions for this request only.
        """
        while self.use_bulk:
            reps = min(self.max_repetitions, reps_cap) if reps_cap else self.max_repetitions
            try:
                status, index, got = await self._request("bulk", cursors, reps)
            except SwitchUnreachable:
                # Some agents never answer GETBULK: try GETNEXT once before giving up.
                status, index, got = await self._request("next", cursors)
                self._no_bulk("timed out on GETBULK but answers GETNEXT")
                return self._next_result(status, index, got, cursors)
            if status == _TOO_BIG and reps > 1:
                self.max_repetitions = max(1, reps // 2)  # for the rest of this session
                reps_cap = None
                continue
            if status or not got:
                self._no_bulk(f"answered GETBULK with {'error-status ' + str(status) if status else 'nothing'}")
                break
            return got, len(cursors)
        status, index, got = await self._request("next", cursors)
        return self._next_result(status, index, got, cursors)

    def _next_result(self, status: int, index: int, got: VarbindList, cursors: list[OID]
                     ) -> tuple[VarbindList, int]:
        if status == _NO_SUCH_NAME:
            # SNMPv1's end of the MIB view: only the varbind at error-index was evaluated.
            raise _ColumnEnded(index - 1 if 0 < index <= len(cursors) else -1)
        if status:
            raise TableError(f"{self.target.where} answered GETNEXT with error-status {status}")
        return got, len(cursors)

    async def probe(self, oid: OID) -> None:
        """One GETNEXT, no fallback: does the agent answer these credentials and context at all?"""
        status, index, got = await self._request("next", [oid])
        self._next_result(status, index, got, [oid])

    def _no_bulk(self, why: str) -> None:
        if self.use_bulk:
            self.use_bulk = False
            self.stats.bulk_fallback = True
            self.stats.notes.append(f"{self.target.where} {why}: walking with GETNEXT")

    async def walk(self, columns: Mapping[str, OID], max_rows: int | None = None,
                   expected_rows: int | None = None) -> tuple[dict[str, Column], list[str]]:
        """Walk several columns side by side; returns (rows per column, problems).

        A column ends at the first OID outside it, at endOfMibView, at an OID that does
        not increase (an agent loop: reported in problems), or at ``max_rows``
        (reported). Errors of the agent or the transport raise.

        ``expected_rows`` (the table's rows at the last poll) sizes each GETBULK to the rows
        still expected plus one, which shows the table's end: a full-size request at the
        end of a table brings back max-repetitions rows per column, mostly of the tables
        after it, and every varbind costs BER decoding. Past the expected rows (the table
        grew) requests are full size again.
        """
        limit = max_rows or self.target.max_rows
        result: dict[str, Column] = {n: {} for n in columns}
        cursor: dict[str, OID] = dict(columns)
        problems: list[str] = []
        active = list(columns)
        while active:
            cap = None
            if expected_rows is not None:
                left = expected_rows - max(len(result[c]) for c in active)
                cap = left + 1 if left >= 0 else None
            try:
                got, stride = await self._fetch([cursor[n] for n in active], cap)
            except _ColumnEnded as e:
                active = [c for i, c in enumerate(active) if i != e.position] if e.position >= 0 else []
                continue
            finished: list[str] = []
            progressed = False
            # Column by column (its varbinds are every stride-th), each until its first
            # varbind past its end; what comes after that in the same answer is not looked at.
            for j, col in enumerate(active):
                root, rows, last = columns[col], result[col], cursor[col]
                n = len(root)
                # last < o < upper: o follows the cursor and is inside the column (an OID
                # after the root and before the root's next sibling starts with the root).
                upper = (*root[:-1], root[-1] + 1)
                ended = False
                for o, _, value in got[j::stride]:
                    if value is None or not last < o < upper:
                        if value is not None and o[:n] == root and o <= last:
                            problems.append(f"{col}: agent returned a non-increasing OID after "
                                            f"{'.'.join(map(str, last))} (agent loop): stopped there")
                        ended = True
                        break
                    last = o
                    rows[o[n:]] = value
                    if len(rows) >= limit:
                        problems.append(f"{col}: stopped at {limit} rows (max_rows)")
                        ended = True
                        break
                if last is not cursor[col]:
                    cursor[col] = last
                    progressed = True
                if ended:
                    finished.append(col)
            if not progressed:
                break
            if finished:
                active = [c for c in active if c not in finished]
        return result, problems
