"""A fresh, empty network namespace (loopback only) for part of a test.

``with isolated_network():`` moves the calling thread into a new network namespace whose only
interface is ``lo``; whatever is started in the block (sockets, threads, child processes such
as qemu or Mosquitto) lives there, and the thread returns to its own namespace afterwards. The
namespace disappears when the last process or socket in it is gone.

Used where a guest could otherwise reach beyond this machine: qemu's user networking forwards
a guest's DNS and NTP to the host's resolver and the internet; inside this namespace those
attempts find no route, while 10.0.2.2 still reaches the namespace's own 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)} (needs root)")


@contextlib.contextmanager
def _returning() -> Iterator[None]:
    """Whatever namespace the block moves this thread into, it comes back to the current one."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        yield
    finally:
        try:
            _check(_libc.setns(original, CLONE_NEWNET), "setns back to the original network namespace")
        finally:
            os.close(original)


@contextlib.contextmanager
def isolated_network() -> Iterator[None]:
    """Run the block in a new network namespace with only the loopback interface up."""
    with _returning():
        _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        yield


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the block in the named namespace (``ip netns add NAME``), then return to this one.

    Sockets made in the block stay in that namespace after it ends, and so do threads started
    in it: a test server can listen on a lab switch's management address this way.
    """
    with _returning():
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            _check(_libc.setns(target, CLONE_NEWNET), f"setns into the network namespace {name}")
        finally:
            os.close(target)
        yield


def routes() -> str:
    """The current namespace's routing table (a test can show that nothing leads outside)."""
    return subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True,
                          check=True).stdout
