"""netmiko's real path end to end against a Cisco-like SSH server answering with corpus outputs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from collectors.cli.ssh import CliTarget, connect_params, poll
from sensor.errors import SourceError
from tests.cli.fake_ios import IOS, FakeIOS
from tests.cli.fake_ios import corpus_outputs as _outputs

pytest.importorskip("netmiko")
pytestmark = pytest.mark.skipif(not IOS.is_dir(), reason=f"CLI corpus not found at {IOS} (../shared absent)")


def test_netmiko_poll_through_prompt_paging_enable(tmp_path: Path) -> None:
    with FakeIOS(_outputs()) as server:
        target = CliTarget(host="127.0.0.1", port=server.port, platform="cisco_ios", username="sensor",
                           password="pw", enable_password="en", timeout=20,
                           host_key_file=str(server.known_hosts(tmp_path / "known_hosts")))
        tables, _ = asyncio.run(poll("sw-fake", target))
        assert "enable" in server.commands and "terminal length 0" in server.commands
    assert not tables.errors, tables.errors
    assert set(tables.provided()) >= {"interfaces", "fdb", "arp", "lldp", "cdp", "system"}
    assert tables.system is not None and tables.system.sys_name == "sw-fake"
    names = tables.ports.names
    fdb = {(f.mac, names.get(f.ifindex or 0)) for f in tables.fdb or []}
    assert ("00:26:ab:b9:a5:03", "FastEthernet4") in fdb
    # The interface table and the MAC table key the same port identically.
    itf = {i.name: i.ifindex for i in tables.interfaces or []}
    assert all(f.ifindex in itf.values() for f in tables.fdb or [] if f.ifindex is not None and
               names[f.ifindex].startswith("GigabitEthernet"))
    assert any(n.sys_name and n.ifindex is not None for n in tables.lldp or [])
    assert tables.cdp


def test_paging_is_handled_even_without_terminal_length(tmp_path: Path) -> None:
    """The fake pages when not told otherwise; netmiko's session preparation must disable it."""
    outputs = _outputs()
    with FakeIOS(outputs) as server:
        target = CliTarget(host="127.0.0.1", port=server.port, platform="cisco_ios", username="sensor",
                           password="pw", timeout=20, host_key_file=str(server.known_hosts(tmp_path / "kh")))
        tables, _ = asyncio.run(poll("sw-fake", target))
    assert server.paged == 0
    assert len(tables.fdb or []) == 19


def test_unknown_host_key_is_refused(tmp_path: Path) -> None:
    with FakeIOS(_outputs()) as server:
        target = CliTarget(host="127.0.0.1", port=server.port, platform="cisco_ios", username="sensor",
                           password="pw", timeout=10, host_key_file=str(tmp_path / "empty"))
        (tmp_path / "empty").write_text("")
        with pytest.raises(SourceError):
            asyncio.run(poll("sw-fake", target))
        assert server.commands == []  # refused before any command ran


def test_insecure_opt_out_warns_on_every_connect(caplog: pytest.LogCaptureFixture) -> None:
    target = CliTarget(host="h", platform="cisco_ios", username="u", password="p", insecure_no_host_key_check=True)
    with caplog.at_level(logging.WARNING, logger="collectors.cli"):
        connect_params("sw", target)
        connect_params("sw", target)
    assert sum("NOT checked" in r.message for r in caplog.records) == 2
    assert connect_params("sw", CliTarget(host="h", platform="cisco_ios", username="u",
                                          host_key_file="/k"))["ssh_strict"] is True
