from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.snmp import agents


@pytest.fixture(scope="session")
def corpus_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One snmpsim serving every corpus recording; the community is the device's folder name."""
    devices = agents.corpus_devices()
    if not devices:
        pytest.skip(f"SNMP corpus not found at {agents.CORPUS} (../shared is absent)")
    root = tmp_path_factory.mktemp("snmpsim")
    data = root / "data"
    data.mkdir()
    for dev in devices:
        # a copy, not a link: snmpsim names the community after the resolved path
        shutil.copyfile(agents.CORPUS / dev / "device.snmprec", data / f"{dev}.snmprec")
    with agents.snmpsim(data, devices[0]) as port:
        yield port


@pytest.fixture(scope="session")
def snmpd_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """net-snmp's snmpd with the v1/v2c communities and every SNMPv3 user of agents.V3_MATRIX."""
    with agents.snmpd(tmp_path_factory.mktemp("snmpd")) as port:
        yield port


def write_secret(path: Path, value: str) -> Path:
    path.write_text(value + "\n")
    os.chmod(path, 0o600)
    return path
