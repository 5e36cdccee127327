"""sensor/switches/methods.py: per-table fallback between methods, re-keying by interface name, memory across polls."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import pytest

from collectors.cli.names import SYNTHETIC_BASE, Ports
from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor, Snapshot, SwitchInfo, TableProblem
from collectors.snmp import PollResult
from collectors.snmp.poll import table_statuses
from collectors.tables import Tables
from sensor.config import SwitchSection, parse_config
from sensor.errors import SourceError
from sensor.switches.methods import MethodResult, PortMemory, merge, offers, poll_switch, snmp_result, tables_result

Poller = Callable[[SwitchSection, Callable[[], float]], Awaitable[MethodResult]]


def switch(tmp_path: Path, methods: str, platform: str = "cisco_ios") -> SwitchSection:
    tmp_path.chmod(0o700)
    for name in ("community", "password"):
        (tmp_path / name).write_text("x\n")
        (tmp_path / name).chmod(0o600)
    cfg = parse_config(f"""
[sensor]
site = "t"
state_dir = "{tmp_path / 'state'}"
[[switch]]
name = "sw"
host = "127.0.0.1"
methods = {methods}
[switch.snmp]
version = "2c"
community_file = "{tmp_path / 'community'}"
[switch.cli]
platform = "{platform}"
username = "u"
password_file = "{tmp_path / 'password'}"
insecure_no_host_key_check = true
""", str(tmp_path / "s.toml"))
    return cfg.switch[0]


def snmp_poll(*, fdb: bool = True, errors: tuple[str, ...] = ()) -> MethodResult:
    itf = (Interface(switch="sw", ifindex=10101, name="Gi1/0/1", descr="GigabitEthernet1/0/1"),
           Interface(switch="sw", ifindex=10148, name="Gi1/0/48", descr="GigabitEthernet1/0/48"))
    snap = Snapshot(
        switch="sw", taken_at=1.0, method="snmp", system=SwitchInfo(switch="sw", sys_name="sw"), interfaces=itf,
        fdb=(FdbEntry(switch="sw", ifindex=10101, vlan=10, mac="00:00:00:00:00:01"),) if fdb else (),
        arp=(ArpEntry(router="sw", ifindex=10148, ip="10.0.0.1", mac="00:00:00:00:00:09"),),
        lldp=(LldpNeighbor(switch="sw", ifindex=10148, sys_name="core"),),
        tables_ok=("ifTable", "ifXTable", "dot1dBasePortTable", "dot1qTpFdbTable", "ipNetToPhysicalTable",
                   "lldpLocPortTable", "lldpRemTable", "cdpCacheTable"), errors=errors)
    # As collectors/snmp/poll.py records them: "<MIB table>: <detail>", typed.
    problems = [TableProblem(kind="refused", source=e.split(": ", 1)[0], detail=e.split(": ", 1)[1]) for e in errors]
    rows = {"ipNetToPhysicalTable": 1, "lldpLocPortTable": 2, "lldpRemTable": 1}
    snap = msgspec.structs.replace(snap, tables=table_statuses(snap, problems, rows))
    return snmp_result(PollResult(snapshot=snap, duration_s=0.1, requests=3, varbinds=30, rows=rows))


def cli_poll(platform: str = "cisco_ios") -> MethodResult:
    t = Tables(switch="sw", ports=Ports(platform))
    k1, k48, k2 = t.ports.key("Gi1/0/1"), t.ports.key("GigabitEthernet1/0/48"), t.ports.key("Gi1/0/2")
    assert k1 is not None and k48 is not None and k2 is not None
    t.interfaces = [Interface(switch="sw", ifindex=k, name=t.ports.names[k]) for k in (k1, k48, k2)]
    t.fdb = [FdbEntry(switch="sw", ifindex=k1, vlan=10, mac="00:00:00:00:00:01"),
             FdbEntry(switch="sw", ifindex=k2, vlan=10, mac="00:00:00:00:00:02")]
    t.arp = []
    t.lldp = [LldpNeighbor(switch="sw", ifindex=k48, sys_name="core")]
    t.cdp = []
    return tables_result("cli", t, 2.0)


def fake(results: dict[str, MethodResult | Exception], calls: list[str]) -> dict[str, Poller]:
    def make(method: str) -> Poller:
        async def poller(sw: SwitchSection, clock: Callable[[], float]) -> MethodResult:
            calls.append(method)
            r = results[method]
            if isinstance(r, Exception):
                raise r
            return r
        return poller
    return {m: make(m) for m in results}


def test_snmp_without_a_forwarding_table_falls_back_to_cli_rekeyed_by_name(tmp_path: Path) -> None:
    sw = switch(tmp_path, '["snmp", "cli"]')
    calls: list[str] = []
    res = asyncio.run(poll_switch(sw, pollers=fake({"snmp": snmp_poll(fdb=False), "cli": cli_poll()}, calls)))
    assert calls == ["snmp", "cli"]
    snap = res.snapshot
    methods = dict(snap.table_methods)
    assert methods == {"system": "snmp", "interfaces": "snmp", "fdb": "cli", "arp": "snmp", "lldp": "snmp",
                       "cdp": "snmp"}
    # The CLI's "Gi1/0/1" is SNMP's ifIndex 10101; a port SNMP does not list keeps a name-derived key.
    fdb = {f.mac: f.ifindex for f in snap.fdb}
    assert fdb["00:00:00:00:00:01"] == 10101
    assert fdb["00:00:00:00:00:02"] is not None and fdb["00:00:00:00:00:02"] >= SYNTHETIC_BASE
    assert [i.ifindex for i in snap.interfaces] == [10101, 10148]
    assert "fdb" in snap.tables_ok and "ifTable" in snap.tables_ok and "dot1qTpFdbTable" not in snap.tables_ok
    assert any("fdb: not provided over snmp; read over cli" in n for n in snap.notes)
    assert res.snmp is not None and res.snmp.varbinds == 30


def test_a_complete_first_method_is_the_only_one_asked(tmp_path: Path) -> None:
    sw = switch(tmp_path, '["snmp", "cli"]')
    calls: list[str] = []
    res = asyncio.run(poll_switch(sw, pollers=fake({"snmp": snmp_poll(), "cli": cli_poll()}, calls)))
    assert calls == ["snmp"]
    assert set(dict(res.snapshot.table_methods).values()) == {"snmp"}
    assert res.snapshot.tables_ok == snmp_poll().snapshot.tables_ok


def test_a_failed_walk_falls_back_and_is_a_note_not_an_error(tmp_path: Path) -> None:
    sw = switch(tmp_path, '["snmp", "cli"]')
    res = asyncio.run(poll_switch(sw, pollers=fake(
        {"snmp": snmp_poll(errors=("lldpRemTable: agent returned genErr",)), "cli": cli_poll()}, [])))
    assert dict(res.snapshot.table_methods)["lldp"] == "cli"
    assert res.snapshot.errors == ()
    assert any("lldp: snmp incomplete (lldpRemTable: agent returned genErr); read over cli" in n
               for n in res.snapshot.notes)
    assert {n.ifindex for n in res.snapshot.lldp} == {10148}


def test_cli_is_not_asked_for_a_table_its_platform_has_not(tmp_path: Path) -> None:
    sw = switch(tmp_path, '["snmp", "cli"]', platform="linux")
    # linux has no CDP; its system table is lldpd's own chassis (lldpcli show chassis)
    assert "cdp" not in offers(sw, "cli") and "system" in offers(sw, "cli")
    r = snmp_poll(errors=("cdpCacheTable: timeout",))
    calls: list[str] = []
    res = asyncio.run(poll_switch(sw, pollers=fake({"snmp": r, "cli": cli_poll("linux")}, calls)))
    assert calls == ["snmp"]
    assert res.snapshot.errors == ("cdpCacheTable: timeout",)


def test_a_dead_method_falls_back_and_all_dead_is_one_error(tmp_path: Path) -> None:
    sw = switch(tmp_path, '["snmp", "cli"]')
    res = asyncio.run(poll_switch(sw, pollers=fake({"snmp": SourceError("no answer"), "cli": cli_poll()}, [])))
    assert res.failures == {"snmp": "no answer"} and res.snapshot.method == "cli"
    assert set(dict(res.snapshot.table_methods).values()) == {"cli"}
    with pytest.raises(SourceError, match="snmp: no answer; cli: refused"):
        asyncio.run(poll_switch(sw, pollers=fake(
            {"snmp": SourceError("no answer"), "cli": SourceError("refused")}, [])))


def test_port_memory_keeps_real_ifindex_when_only_cli_answers() -> None:
    memory = PortMemory()
    first = memory.apply(snmp_poll().snapshot)
    assert [i.ifindex for i in first.interfaces] == [10101, 10148]
    cli = merge("sw", [cli_poll()], {"snmp": "no answer"})
    again = memory.apply(cli)
    keys = {i.name: i.ifindex for i in again.interfaces}
    assert keys["GigabitEthernet1/0/1"] == 10101 and keys["GigabitEthernet1/0/48"] == 10148
    assert keys["GigabitEthernet1/0/2"] >= SYNTHETIC_BASE  # never seen with an ifIndex
    assert {f.mac: f.ifindex for f in again.fdb}["00:00:00:00:00:01"] == 10101
    assert {n.ifindex for n in again.lldp} == {10148}


def test_the_switch_identity_is_merged_from_every_method_that_says_it(tmp_path: Path) -> None:
    # SNMP names the switch and gives its bridge MAC but no LLDP-MIB; the CLI (asked for the FDB) gives
    # its own LLDP chassis id: the merged system carries both.
    sw = switch(tmp_path, '["snmp", "cli"]')
    snmp = snmp_poll(fdb=False)
    assert snmp.snapshot.system is not None
    snmp = dataclasses.replace(snmp, snapshot=msgspec.structs.replace(
        snmp.snapshot, system=msgspec.structs.replace(snmp.snapshot.system, base_mac="70:10:6f:00:00:00")))
    cli = cli_poll()
    cli = dataclasses.replace(cli, snapshot=msgspec.structs.replace(
        cli.snapshot, system=SwitchInfo(switch="sw", sys_name="sw-prompt", lldp_chassis_id="70:10:6f:00:00:01")))
    res = asyncio.run(poll_switch(sw, pollers=fake({"snmp": snmp, "cli": cli}, [])))
    s = res.snapshot.system
    assert s is not None and (s.sys_name, s.base_mac, s.lldp_chassis_id) == ("sw", "70:10:6f:00:00:00",
                                                                              "70:10:6f:00:00:01")
