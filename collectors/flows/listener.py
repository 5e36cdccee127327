"""The thin I/O around the decoders: UDP sockets, exporter filtering, and one window's table.

:class:`FlowCollector` is synchronous and pure apart from logging: ``feed(datagram,
address)`` filters by the allowed exporters, decodes and aggregates at once.
:class:`FlowListener` owns the sockets: a large SO_RCVBUF (the size granted is
logged), SO_RXQ_OVFL so the kernel says how many datagrams it dropped, and a
reader callback that drains each socket with ``recvmsg`` (many datagrams per
event-loop wake-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from collectors.flows.decode import Decoder
from collectors.flows.table import FlowTable

SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux; Python has no constant for it
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
MAX_DATAGRAM = 65535
READS_PER_WAKEUP = 256

log = structlog.get_logger("collectors.flows")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_listen(addr: str) -> tuple[str, int]:
    """"0.0.0.0:2055" or "[::]:4739" -> (host, port); ValueError says what is wrong."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host:
        raise ValueError(f'expected "address:port", e.g. "0.0.0.0:2055", got "{addr}"')
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    ipaddress.ip_address(host)
    p = int(port)
    if not 0 <= p <= 65535:
        raise ValueError(f"port {p} out of range")
    return host, p


class FlowCollector:
    """Exporter filter + decoder + the current window's table."""

    def __init__(self, allowed: Iterable[str], decoder: Decoder | None = None, *, max_keys: int = 200_000) -> None:
        self.allowed: list[Network] = [ipaddress.ip_network(a, strict=False) for a in allowed]
        self.decoder = decoder or Decoder()
        self.max_keys = max_keys
        self.table = FlowTable(max_keys)
        self.stats: Counter[str] = Counter()
        self._verdicts: dict[str, bool] = {}

    def is_allowed(self, addr: str) -> bool:
        ok = self._verdicts.get(addr)
        if ok is None:
            try:
                ip = ipaddress.ip_address(addr)
            except ValueError:
                return False
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            ok = any(ip in net for net in self.allowed)
            if len(self._verdicts) < 65536:
                self._verdicts[addr] = ok
        return ok

    def feed(self, data: bytes, addr: str) -> None:
        if not self.is_allowed(addr):
            self.stats["not_allowed"] += 1
            return
        if addr.startswith("::ffff:"):
            addr = addr[7:]
        res = self.decoder.decode(data, addr)
        if res.error is not None:
            log.debug("flow datagram rejected", exporter=addr, reason=res.error, size=len(data),
                      sample=bytes(data[:64]).hex())
        add = self.table.add
        for b in res.batches:
            add(b)

    def swap(self) -> FlowTable:
        """The finished window's table; a fresh one takes its place."""
        done, self.table = self.table, FlowTable(self.max_keys)
        return done


class FlowListener:
    """UDP sockets on the configured addresses, kept open across windows."""

    def __init__(self, addresses: Iterable[tuple[str, int]], on_datagram: Callable[[bytes, str], None], *,
                 rcvbuf: int = 32 << 20) -> None:
        self.addresses = list(addresses)
        self.on_datagram = on_datagram
        self.rcvbuf = rcvbuf
        self.socks: list[socket.socket] = []
        self._drops: dict[int, int] = {}
        self.datagrams = 0
        self.recv_errors = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def kernel_drops(self) -> int:
        """Datagrams the kernel dropped (socket buffer full) since the sockets were opened."""
        return sum(self._drops.values())

    @property
    def bound(self) -> list[tuple[str, int]]:
        return [s.getsockname()[:2] for s in self.socks]

    def start(self) -> None:
        if self.socks:
            return
        self._loop = asyncio.get_running_loop()
        try:
            for host, port in self.addresses:
                self.socks.append(self._open(host, port))
        except OSError:
            self.close()
            raise

    def _open(self, host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.rcvbuf)  # needs CAP_NET_ADMIN
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        granted = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        except OSError:
            log.warning("SO_RXQ_OVFL unavailable: kernel drops will not be counted")
        s.setblocking(False)
        s.bind((host, port))
        # Linux reports twice the requested size (bookkeeping overhead).
        log.info("flow listener open", address=f"{host}:{s.getsockname()[1]}", rcvbuf_requested=self.rcvbuf,
                 rcvbuf_granted=granted)
        if granted < self.rcvbuf:
            log.warning("receive buffer smaller than requested: raise net.core.rmem_max",
                        requested=self.rcvbuf, granted=granted)
        assert self._loop is not None
        self._loop.add_reader(s.fileno(), self._readable, s)
        return s

    def _readable(self, s: socket.socket) -> None:
        space = socket.CMSG_SPACE(4)
        feed = self.on_datagram
        n = 0
        for _ in range(READS_PER_WAKEUP):
            try:
                data, anc, _flags, addr = s.recvmsg(MAX_DATAGRAM, space)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.recv_errors += 1
                break
            n += 1
            for level, typ, payload in anc:
                if level == socket.SOL_SOCKET and typ == SO_RXQ_OVFL and len(payload) >= 4:
                    self._drops[s.fileno()] = struct.unpack("=I", payload[:4])[0]
            try:
                feed(data, addr[0])
            except Exception:  # never let one datagram kill the reader
                self.recv_errors += 1
                log.exception("flow datagram handler failed")
        self.datagrams += n

    def close(self) -> None:
        for s in self.socks:
            if self._loop is not None:
                with contextlib.suppress(ValueError, RuntimeError):
                    self._loop.remove_reader(s.fileno())
            s.close()
        self.socks = []

    def __enter__(self) -> FlowListener:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
