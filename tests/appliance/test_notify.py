"""sd_notify over $NOTIFY_SOCKET: `sensor run` says READY=1, pets the watchdog, says STOPPING=1.

A real AF_UNIX datagram socket stands in for systemd; the sensor runs as a real process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensor import notify


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nid = "notify-test"\nsite = "lab"\nstate_dir = "{tmp_path / "state"}"\n')
    return cfg


def _receive(sock: socket.socket, until: float) -> list[str]:
    messages = []
    sock.settimeout(max(0.01, until - time.monotonic()))
    try:
        while time.monotonic() < until:
            messages.append(sock.recv(4096).decode())
            sock.settimeout(max(0.01, until - time.monotonic()))
    except TimeoutError:
        pass
    return messages


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(path))
        yield s, str(path)


def test_sensor_run_notifies_ready_watchdog_stopping(tmp_path: Path, notify_socket) -> None:
    sock, path = notify_socket
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}  # pet every 0.2 s
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sensor.cli", "run", "--config", str(_config(tmp_path))],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        got: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in got) < 3:
            got += _receive(sock, min(deadline, time.monotonic() + 0.5))
            assert proc.poll() is None, proc.communicate()[0].decode()
        ready = [i for i, m in enumerate(got) if "READY=1" in m.split("\n")]
        pets = [i for i, m in enumerate(got) if m == "WATCHDOG=1"]
        assert ready, f"no READY=1 in {got}"
        assert len(pets) >= 3, f"watchdog not petted: {got}"
        assert ready[0] < pets[0], f"petted before READY: {got}"
        assert any(line.startswith("STATUS=") for line in got[ready[0]].split("\n"))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        got += _receive(sock, time.monotonic() + 0.2)
        assert any("STOPPING=1" in m.split("\n") for m in got), got
        assert proc.returncode == 0, out.decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_abstract_socket_and_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"edge-sensor-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        s.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify.ready("up")
        assert s.recv(100) == b"READY=1\nSTATUS=up"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert notify.ready() is False
    assert notify.watchdog_interval() is None


def test_watchdog_interval_is_half_and_respects_pid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "x.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert notify.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert notify.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert notify.watchdog_interval() is None
