"""Walks sized by the previous poll's row counts: fewer varbinds, never different tables.

Whatever the hints say (right, too small: the table grew, too large: it shrank, zero), a poll
reads exactly what a poll without hints reads. Against real agents: net-snmp's snmpd serving
this host's interfaces and ARP table, and snmpsim serving corpus recordings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from collectors.snmp import Credentials, PollResult, Target, close_engines, poll
from tests.snmp import agents


def _poll(port: int, community: str, hints: dict[str, int] | None) -> PollResult:
    async def run() -> PollResult:
        try:
            return await poll("sw", Target("127.0.0.1", port, timeout=5, max_repetitions=20),
                              Credentials("2c", community=community), row_hints=hints, clock=lambda: 0.0)
        finally:
            close_engines()
    return asyncio.run(run())


def _tables(res: PollResult) -> bytes:
    snap = res.snapshot
    if snap.system is not None:  # the agent's clock moves on between polls
        snap = msgspec.structs.replace(snap, system=msgspec.structs.replace(snap.system, sys_uptime=0))
    return msgspec.json.encode(snap)


def _check(port: int, community: str) -> tuple[PollResult, PollResult]:
    plain = _poll(port, community, None)
    hinted = _poll(port, community, dict(plain.rows))
    assert _tables(hinted) == _tables(plain)
    assert hinted.rows == plain.rows
    assert hinted.varbinds < plain.varbinds, (hinted.varbinds, plain.varbinds)
    assert hinted.requests <= plain.requests + 1
    wrong = {
        "too small (tables grew)": {t: max(0, n // 3) for t, n in plain.rows.items()},
        "too large (tables shrank)": {t: n * 3 + 5 for t, n in plain.rows.items()},
        "zero": dict.fromkeys(plain.rows, 0),
    }
    for what, hints in wrong.items():
        res = _poll(port, community, hints)
        assert _tables(res) == _tables(plain), what
        assert res.rows == plain.rows, what
    return plain, hinted


def test_hints_on_net_snmp(tmp_path: Path) -> None:
    with agents.snmpd(tmp_path) as port:
        plain, _ = _check(port, "public")
    assert plain.snapshot.interfaces  # this host's interfaces, at least lo


@pytest.mark.parametrize("device", ["procurve_2520", "edgecos_es3510ma", "arista_eos"])
def test_hints_on_corpus_recordings(device: str, corpus_agent: int) -> None:
    if device not in agents.corpus_devices():
        pytest.skip(f"{device} is not in the corpus")
    plain, hinted = _check(corpus_agent, device)
    print(f"{device}: {plain.varbinds} -> {hinted.varbinds} varbinds, {plain.requests} -> {hinted.requests} requests")
