"""SNMP agents for tests: snmpsim serving recordings, net-snmp's snmpd, and a scriptable misbehaving agent.

Every agent listens on a free loopback UDP port and is stopped (and waited for) by
its context manager, also when the test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api
from pysnmp.proto.rfc1902 import Integer, ObjectName, OctetString

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CORPUS = REPO.parent / "shared" / "corpus" / "snmp"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def corpus_devices() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(p.name for p in CORPUS.iterdir() if (p / "device.snmprec").is_file())


def _answers(port: int, community: str, timeout: float = 0.5) -> bool:
    """True when an agent on the port answers a v2c GET of sysUpTime (net-snmp's snmpget)."""
    res = subprocess.run(
        ["snmpget", "-v2c", "-c", community, "-t", str(timeout), "-r", "0", "-On", f"127.0.0.1:{port}",
         "1.3.6.1.2.1.1.3.0"], capture_output=True, text=True, env={**os.environ, "MIBS": ""})
    return res.returncode == 0


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def snmpsim(data_dir: Path, probe_community: str, *, startup: float = 120,
            v3_users: Sequence[tuple[str, str, str]] = ()) -> Iterator[int]:
    """snmpsim's command responder serving ``data_dir`` (``<community>.snmprec`` files) on a free port.

    ``v3_users``: (user, auth, priv) in snmpsim's spelling (SHA, AES192 ...), keys AUTH_KEY and
    PRIV_KEY; over SNMPv3 a recording is the context named like its community.
    """
    exe = VENV_BIN / "snmpsim-command-responder"
    port = free_udp_port()
    argv = [str(exe)]
    if v3_users:
        argv.append("--v3-engine-id=auto")
        for user, auth, priv in v3_users:
            argv += [f"--v3-user={user}", f"--v3-auth-key={AUTH_KEY}", f"--v3-auth-proto={auth}",
                     f"--v3-priv-key={PRIV_KEY}", f"--v3-priv-proto={priv}"]
    argv += [f"--data-dir={data_dir}", f"--agent-udpv4-endpoint=127.0.0.1:{port}",
            f"--cache-dir={data_dir.parent / 'snmpsim-cache'}", "--logging-method=null"]
    if os.geteuid() == 0:
        argv += ["--process-user=root", "--process-group=root"]
    log = (data_dir.parent / "snmpsim.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + startup
        while not _answers(port, probe_community):
            if proc.poll() is not None:
                raise RuntimeError(f"snmpsim exited with {proc.returncode}: see {log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"snmpsim did not answer within {startup}s: see {log.name}")
            time.sleep(0.3)
        yield port
    finally:
        _stop(proc)
        log.close()


# SNMPv3 users of the snmpd fixture: (user, auth, priv) in the sensor's spelling.
V3_USERS = [
    ("umd5", "md5", "des"),
    ("usha", "sha", "aes128"),
    ("usha224", "sha224", "aes192"),
    ("usha256", "sha256", "aes256"),
    ("usha384", "sha384", None),
    ("usha512", "sha512", "aes128"),
]
# Every auth x priv combination net-snmp 5.9 speaks (aes192c/aes256c, Cisco's key extension, it does not),
# and noAuthNoPriv: user "u-<auth>-<priv>" ("none" for no priv; "u-none-none" for neither).
V3_MATRIX: list[tuple[str, str | None, str | None]] = [("u-none-none", None, None)] + [
    (f"u-{auth}-{priv or 'none'}", auth, priv)
    for auth in ("md5", "sha", "sha224", "sha256", "sha384", "sha512")
    for priv in (None, "des", "aes128", "aes192", "aes256")]
AUTH_KEY, PRIV_KEY = "auth-key-123", "priv-key-456"
_NETSNMP_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
                 "sha512": "SHA-512"}
_NETSNMP_PRIV = {"des": "DES", "aes128": "AES", "aes192": "AES-192", "aes256": "AES-256"}


@contextlib.contextmanager
def snmpd(workdir: Path, community: str = "public") -> Iterator[int]:
    """net-snmp's snmpd on a free loopback port: v1/v2c ``community``, V3_USERS and V3_MATRIX."""
    if shutil.which("snmpd") is None:
        raise RuntimeError("snmpd is not installed (apt install snmpd)")
    port = free_udp_port()
    persist = workdir / "persist"
    persist.mkdir(parents=True, exist_ok=True)
    lines = [f"[snmp] persistentDir {persist}", f"agentaddress udp:127.0.0.1:{port}",
             f"rocommunity {community} 127.0.0.1"]
    for user, auth, priv in V3_USERS:
        lines.append(f"createUser {user} {_NETSNMP_AUTH[auth]} {AUTH_KEY}"
                     + (f" {_NETSNMP_PRIV[priv]} {PRIV_KEY}" if priv else ""))
        lines.append(f"rouser {user} {'priv' if priv else 'auth'}")
    for user, auth_, priv_ in V3_MATRIX:
        if auth_ is None:
            lines += [f"createUser {user}", f"rouser {user} noauth"]
            continue
        lines.append(f"createUser {user} {_NETSNMP_AUTH[auth_]} {AUTH_KEY}"
                     + (f" {_NETSNMP_PRIV[priv_]} {PRIV_KEY}" if priv_ else ""))
        lines.append(f"rouser {user} {'priv' if priv_ else 'auth'}")
    conf = workdir / "snmpd.conf"
    conf.write_text("\n".join(lines) + "\n")
    log = (workdir / "snmpd.log").open("wb")
    proc = subprocess.Popen(["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(workdir / "snmpd.pid")],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MIBS": ""},
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not _answers(port, community):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"snmpd did not start: see {log.name}")
            time.sleep(0.1)
        yield port
    finally:
        _stop(proc)
        log.close()


# --- a misbehaving agent, in-process ----------------------------------------------------

Responder = Callable[[str, list[tuple[tuple[int, ...], Any]], int], Any]


class FakeAgent(asyncio.DatagramProtocol):
    """A v1/v2c agent whose answers a test scripts: ``respond(pdu_kind, request varbinds, max_reps)``
    returns the response varbinds (``(oid, value)``; value None = endOfMibView), an int error-status,
    or None to stay silent."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[str] = []
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        version = int(api.verdec.decode_message_version(data))
        p = api.PROTOCOL_MODULES[version]
        msg, _ = decoder.decode(data, asn1Spec=p.Message())
        pdu = p.apiMessage.get_pdu(msg)
        kind = {"GetRequestPDU": "get", "GetNextRequestPDU": "next", "GetBulkRequestPDU": "bulk"}.get(
            type(pdu).__name__, "other")
        self.requests.append(kind)
        reps = int(p.apiBulkPDU.get_max_repetitions(pdu)) if kind == "bulk" else 0
        asked = [(tuple(o), v) for o, v in p.apiPDU.get_varbinds(pdu)]
        answer = self.respond(kind, asked, reps)
        if answer is None:
            return
        rsp = p.apiMessage.get_response(msg)
        rsp_pdu = p.apiMessage.get_pdu(rsp)
        if isinstance(answer, int):  # an error-status (1 tooBig, 5 genErr, ...)
            p.apiPDU.set_error_status(rsp_pdu, answer)
            p.apiPDU.set_error_index(rsp_pdu, 0)
            p.apiPDU.set_varbinds(rsp_pdu, [(ObjectName(o), v) for o, v in asked])
            assert self.transport is not None
            self.transport.sendto(encoder.encode(rsp), addr)
            return
        vbs = []
        for o, v in answer:
            if v is None:
                v = api.v2c.EndOfMibView("")  # type: ignore[attr-defined]
            elif isinstance(v, int):
                v = Integer(v)
            elif isinstance(v, bytes):
                v = OctetString(v)
            vbs.append((ObjectName(o), v))
        p.apiPDU.set_varbinds(rsp_pdu, vbs)
        assert self.transport is not None
        self.transport.sendto(encoder.encode(rsp), addr)


P = TypeVar("P", bound=asyncio.DatagramProtocol)


@contextlib.asynccontextmanager
async def udp_endpoint(factory: Callable[[], P]) -> AsyncIterator[tuple[P, int]]:
    """A datagram protocol from ``factory`` on a free loopback port: (protocol, port), closed after."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(factory, local_addr=("127.0.0.1", 0))
    try:
        yield proto, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


def fake_agent(respond: Responder) -> contextlib.AbstractAsyncContextManager[tuple[FakeAgent, int]]:
    return udp_endpoint(lambda: FakeAgent(respond))


def table_responder(rows: dict[tuple[int, ...], Any], *, bulk: bool = True) -> Responder:
    """A well-behaved agent over ``rows`` (GETNEXT/GETBULK in OID order); ``bulk=False`` ignores GETBULK."""
    ordered = sorted(rows)

    def successor(o: tuple[int, ...]) -> tuple[tuple[int, ...], Any]:
        for k in ordered:
            if k > o:
                return k, rows[k]
        return o, None

    def respond(kind: str, asked: list[tuple[tuple[int, ...], Any]], reps: int) -> Any:
        if kind == "get":
            return [(o, rows.get(o, b"")) for o, _ in asked]
        if kind == "next":
            return [successor(o) for o, _ in asked]
        if kind == "bulk":
            if not bulk:
                return None
            out = []
            cursors = [o for o, _ in asked]
            for _ in range(reps):
                nxt = [successor(c) for c in cursors]
                out.extend(nxt)
                cursors = [n[0] for n in nxt]
            return out
        return None

    return respond
