"""systemd's notify protocol, spoken directly over ``$NOTIFY_SOCKET`` (no libsystemd).

``Type=notify`` services tell the manager when they are ready (``READY=1``), pet the
watchdog (``WATCHDOG=1``, at least every ``$WATCHDOG_USEC``; we do it at half that),
say they are stopping (``STOPPING=1``) and show a one-line ``STATUS=`` in
``systemctl status``. Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import asyncio
import os
import socket

import structlog

log = structlog.get_logger("sensor.notify")


def _address() -> str | None:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return None
    if addr[0] not in "/@":
        return None  # vsock: and other schemes are not used by a service manager on one host
    # '@' is the abstract namespace: a leading NUL byte for the kernel.
    return "\0" + addr[1:] if addr[0] == "@" else addr


def notify(*fields: str) -> bool:
    """Send ``fields`` (e.g. "READY=1", "STATUS=...") as one datagram; True if it was sent."""
    addr = _address()
    if addr is None:
        return False
    msg = "\n".join(f.replace("\n", " ") for f in fields).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(addr)
            s.sendall(msg)
    except OSError as e:
        # The manager went away or the socket is not ours to use: never fatal for the sensor.
        log.warning("cannot notify the service manager", socket=os.environ.get("NOTIFY_SOCKET"), error=str(e))
        return False
    return True


def ready(status: str | None = None) -> bool:
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def stopping(status: str | None = None) -> bool:
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []))


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """Seconds between pets (half of ``$WATCHDOG_USEC``), or None when no watchdog is armed for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or _address() is None:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # the watchdog belongs to another process (e.g. a wrapper that exec'd us)
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None


async def watchdog_loop(interval: float | None = None) -> None:
    """Pet the watchdog from the event loop: if the loop hangs, systemd restarts the sensor."""
    every = watchdog_interval() if interval is None else interval
    if every is None:
        return
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(every)
