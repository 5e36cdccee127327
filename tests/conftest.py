from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "broker")
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a sensor.toml into tmp_path; state goes to tmp_path/state."""
    os.chmod(tmp_path, 0o700)

    def write(body: str = "", *, mqtt_port: int | None = None, name: str = "sensor.toml",
              extra_sensor: str = "") -> Path:
        head = f"""
        [sensor]
        id = "test"
        site = "lab"
        state_dir = "{tmp_path / 'state'}"
        health_interval = "1h"
        {extra_sensor}
        """
        if mqtt_port is not None:
            head += f"""
        [mqtt]
        host = "127.0.0.1"
        port = {mqtt_port}
        drain_timeout = "20s"
        """
        p = tmp_path / name
        p.write_text(textwrap.dedent(head) + textwrap.dedent(body))
        return p

    return write
