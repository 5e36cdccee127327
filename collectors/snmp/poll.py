"""One poll of one switch: the walks to make, in what order, and the snapshot they give."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from collectors.snmp import decode, oids
from collectors.snmp.client import Credentials, Session, TableError, Target, WalkStats
from collectors.snmp.decode import Column
from sensor.config import SwitchSection, read_secret
from sensor.errors import SourceError
from sensor.facts import FdbEntry, Snapshot

VLAN_CONCURRENCY = 4


@dataclass
class PollResult:
    snapshot: Snapshot
    duration_s: float
    requests: int
    varbinds: int
    rows: dict[str, int] = field(default_factory=dict)


def target_from_config(sw: SwitchSection) -> tuple[Target, Credentials]:
    """The SNMP target and credentials of a configured switch; secrets are read now (SecretError)."""
    s = sw.snmp
    if s is None:
        raise SourceError(f"switch {sw.name} has no [switch.snmp] table")
    target = Target(host=sw.host, port=s.port, timeout=float(s.timeout), retries=s.retries,
                    max_repetitions=s.max_repetitions, bulk=s.bulk, max_rows=s.max_rows)
    if s.version in ("1", "2c"):
        creds = Credentials(version=s.version, community=read_secret(s.community_file or ""), context=s.context)
    else:
        creds = Credentials(
            version="3",
            user=s.user or "",
            auth_protocol=s.auth_protocol,
            auth_key=read_secret(s.auth_key_file) if s.auth_key_file else None,
            priv_protocol=s.priv_protocol,
            priv_key=read_secret(s.priv_key_file) if s.priv_key_file else None,
            context=s.context,
        )
    return target, creds


class _Poll:
    def __init__(self, switch: str, session: Session, row_hints: Mapping[str, int]) -> None:
        self.switch = switch
        self.session = session
        self.row_hints = row_hints
        self.tables: dict[str, dict[str, Column]] = {}
        self.ok: list[str] = []
        self.errors: list[str] = []
        self.failures: list[SourceError] = []
        self.notes: list[str] = []

    async def walk(self, name: str, columns: Mapping[str, oids.OID], session: Session | None = None) -> None:
        try:
            rows, problems = await (session or self.session).walk(columns, expected_rows=self.row_hints.get(name))
        except SourceError as e:
            self.errors.append(f"{name}: {e}")
            self.failures.append(e)
            return
        self.tables[name] = rows
        if problems:
            self.errors.extend(f"{name}: {p}" for p in problems)
        else:
            self.ok.append(name)

    def table(self, *names: str) -> dict[str, Column]:
        out: dict[str, Column] = {}
        for n in names:
            out.update(self.tables.get(n, {}))
        return out

    def rows(self, name: str) -> int:
        return max((len(c) for c in self.tables.get(name, {}).values()), default=0)


async def poll(switch: str, target: Target, creds: Credentials, *, vlan_indexing: bool | None = None,
               clock: Callable[[], float] = time.time, row_hints: Mapping[str, int] | None = None) -> PollResult:
    """Poll one switch once. Raises SwitchUnreachable/SwitchAuthError/SourceError when nothing
    could be read; a table that fails on its own is listed in the snapshot's ``errors``.

    ``row_hints``: the ``rows`` of the previous poll of this switch, which size the walks.
    """
    started, taken_at = time.monotonic(), clock()
    stats = WalkStats()
    session = Session(target, creds, stats)
    p = _Poll(switch, session, row_hints or {})

    scalars = await session.get(oids.SYSTEM)  # also proves reachability and credentials
    system = decode.decode_system(switch, scalars)

    walks: list[Awaitable[None]] = [p.walk(name, cols) for name, cols in oids.TABLES.items()]
    cisco = vlan_indexing is True or (vlan_indexing is None and decode.is_cisco(system.sys_object_id))
    if cisco:
        walks.append(p.walk("vtpVlanTable", oids.VTP_VLAN))
    await asyncio.gather(*walks)
    if not p.tables:
        raise p.failures[0] if p.failures else SourceError(f"{target.where}: no table could be read")

    lags = decode.lag_membership(p.table("dot3adAggPortTable"))
    interfaces = decode.decode_interfaces(switch, p.table("ifTable", "ifXTable"), lags)
    ifindexes = [i.ifindex for i in interfaces]

    ports = decode.PortResolver(decode.bridge_port_map(p.table("dot1dBasePortTable")), ifindexes)
    fdb, fdb_notes = decode.decode_qbridge_fdb(
        switch, p.table("dot1qTpFdbTable"), ports, decode.vlans_by_fdb_id(p.table("dot1qVlanCurrentTable")))
    p.notes.extend(fdb_notes)
    rows = {name: p.rows(name) for name in p.tables}
    if not fdb:
        vlans = decode.cisco_operational_vlans(p.table("vtpVlanTable")) if cisco else []
        if vlans:
            fdb = await _per_vlan_fdb(p, switch, vlans, ifindexes, rows)
        else:
            fdb = decode.decode_bridge_fdb(switch, p.table("dot1dTpFdbTable"), ports)
    if ports.assumed:
        p.notes.append("no dot1dBasePortTable: bridge port numbers taken as ifIndex")

    local_ports = decode.LocalPortMap(p.table("lldpLocPortTable"), interfaces)
    lldp = decode.decode_lldp(switch, p.table("lldpRemTable"), local_ports,
                              decode.lldp_management_addresses(p.table("lldpRemManAddrTable")),
                              decode.lldp_med(p.table("lldpXMedRemCapabilitiesTable"),
                                              p.table("lldpXMedRemInventoryTable")))
    p.notes.extend(local_ports.notes)
    cdp = decode.decode_cdp(switch, p.table("cdpCacheTable"), ifindexes)
    arp = decode.merge_arp(decode.decode_ip_net_to_physical(switch, p.table("ipNetToPhysicalTable")),
                           decode.decode_ip_net_to_media(switch, p.table("ipNetToMediaTable")))
    p.notes.extend(stats.notes)

    snapshot = Snapshot(
        switch=switch,
        taken_at=taken_at,
        method="snmp",
        system=system,
        interfaces=tuple(interfaces),
        fdb=tuple(fdb),
        arp=tuple(arp),
        lldp=tuple(lldp + cdp),
        tables_ok=tuple(sorted(p.ok)),
        errors=tuple(p.errors),
        notes=tuple(p.notes),
    )
    return PollResult(snapshot=snapshot, duration_s=time.monotonic() - started,
                      requests=stats.requests, varbinds=stats.varbinds, rows=rows)


async def _per_vlan_fdb(p: _Poll, switch: str, vlans: list[int], ifindexes: list[int],
                        rows: dict[str, int]) -> list[FdbEntry]:
    """Cisco: one bridge instance per VLAN, reached with community@vlan or context vlan-N."""
    limit = asyncio.Semaphore(VLAN_CONCURRENCY)
    out: list[FdbEntry] = []
    failed: list[int] = []

    async def one(vlan: int) -> None:
        async with limit:
            s = p.session.for_vlan(vlan)
            try:
                base, _ = await s.walk(oids.BASE_PORT)
                fdb, problems = await s.walk(oids.DOT1D_FDB, expected_rows=p.row_hints.get(f"dot1dTpFdbTable@{vlan}"))
            except SourceError as e:
                failed.append(vlan)
                kind = "TableError" if isinstance(e, TableError) else type(e).__name__
                p.errors.append(f"dot1dTpFdbTable vlan {vlan}: {e}" if kind else str(e))
                return
            p.errors.extend(f"dot1dTpFdbTable vlan {vlan}: {m}" for m in problems)
            ports = decode.PortResolver(decode.bridge_port_map(base), ifindexes)
            entries = decode.decode_bridge_fdb(switch, fdb, ports, vlan=vlan)
            out.extend(entries)
            rows[f"dot1dTpFdbTable@{vlan}"] = len(entries)

    await asyncio.gather(*(one(v) for v in vlans))
    p.notes.append(f"Cisco per-VLAN FDB: walked {len(vlans)} VLAN(s)"
                   + (f", {len(failed)} failed" if failed else ""))
    if not failed:
        p.ok.append("dot1dTpFdbTable")
    out.sort(key=lambda e: (e.vlan or 0, e.mac))
    return out
