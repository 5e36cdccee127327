"""One poll of one switch: the walks to make, in what order, and the snapshot they give."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from collectors.errors import SourceError
from collectors.facts import TABLES, FdbEntry, ProblemKind, Snapshot, TableProblem, TableStatus
from collectors.snmp import decode, oids
from collectors.snmp.client import Credentials, Session, Target, WalkStats
from collectors.snmp.decode import Column

VLAN_CONCURRENCY = 4


@dataclass
class PollResult:
    snapshot: Snapshot
    duration_s: float
    requests: int
    varbinds: int
    rows: dict[str, int] = field(default_factory=dict)


class _Poll:
    def __init__(self, switch: str, session: Session, row_hints: Mapping[str, int]) -> None:
        self.switch = switch
        self.session = session
        self.row_hints = row_hints
        self.tables: dict[str, dict[str, Column]] = {}
        self.ok: list[str] = []
        self.problems: list[TableProblem] = []
        self.failures: list[SourceError] = []
        self.notes: list[str] = []

    def problem(self, name: str, kind: ProblemKind, detail: str, *, source: str | None = None) -> None:
        """Record what went wrong with MIB table ``name`` (``source``: a finer name, e.g. one VLAN's)."""
        self.problems.append(TableProblem(kind=kind, detail=detail, source=source or name))

    async def walk(self, name: str, columns: Mapping[str, oids.OID], session: Session | None = None) -> None:
        try:
            rows, problems = await (session or self.session).walk(columns, expected_rows=self.row_hints.get(name))
        except SourceError as e:
            self.problem(name, e.kind, str(e))
            self.failures.append(e)
            return
        self.tables[name] = rows
        for problem in problems:
            self.problem(name, "partial", problem)
        if not problems:
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

    oid = system.sys_object_id
    ports = decode.PortResolver(decode.bridge_port_map(p.table("dot1dBasePortTable")), ifindexes,
                                port_is_ifindex=decode.port_is_ifindex(oid),
                                by_name=decode.ports_by_name(oid, interfaces))
    fdb, fdb_notes = decode.decode_qbridge_fdb(
        switch, p.table("dot1qTpFdbTable"), ports, decode.vlans_by_fdb_id(p.table("dot1qVlanCurrentTable")))
    p.notes.extend(fdb_notes)
    rows = {name: p.rows(name) for name in p.tables}
    if not fdb:
        vlans = decode.cisco_operational_vlans(p.table("vtpVlanTable")) if cisco else []
        if vlans:
            fdb = await _per_vlan_fdb(p, switch, vlans, ifindexes, rows, ports)
        else:
            fdb = decode.decode_bridge_fdb(switch, p.table("dot1dTpFdbTable"), ports)
    if (oid.strip(".") + ".").startswith(decode.HUAWEI) and (not fdb or any(f.ifindex is None for f in fdb)):
        await p.walk("hwDynFdbTable", oids.HUAWEI_FDB)
        vendor = decode.decode_huawei_fdb(switch, p.table("hwDynFdbTable"), ifindexes)
        if vendor:
            fdb = decode.fill_ports(fdb, vendor)
            p.notes.append(f"HUAWEI-L2MAM-MIB: {len(vendor)} forwarding row(s) give the ports the bridge MIBs lack")
    p.notes.extend(ports.notes())
    unmapped = sum(1 for f in fdb if f.ifindex is None and f.status == "learned")
    if unmapped:
        p.notes.append(f"{unmapped} learned forwarding row(s) have no port: counted, not attached to any port")

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
        errors=tuple(str(x) for x in p.problems),
        notes=tuple(p.notes),
    )
    snapshot = msgspec.structs.replace(snapshot, tables=table_statuses(snapshot, p.problems, rows))
    return PollResult(snapshot=snapshot, duration_s=time.monotonic() - started,
                      requests=stats.requests, varbinds=stats.varbinds, rows=rows)


# A VLAN context that does not answer this quickly is taken as "contexts are not
# configured": the poll then costs at most PROBE_TIMEOUT * (PROBE_RETRIES + 1) more.
PROBE_TIMEOUT = 0.5
PROBE_RETRIES = 1


async def _per_vlan_fdb(p: _Poll, switch: str, vlans: list[int], ifindexes: list[int],
                        rows: dict[str, int], default_ports: decode.PortResolver) -> list[FdbEntry]:
    """Cisco: one bridge instance per VLAN, reached with community@vlan or context vlan-N.

    One VLAN context is probed first with a short timeout. When it does not answer (an
    SNMPv3 group without ``context vlan- match prefix``, a community that cannot be indexed,
    an agent with only the default context), the default context's forwarding table is
    kept (VLAN 1's bridge instance on Cisco) and the table is marked partial, so nobody is
    marked absent because of it, and the problem says what to configure on the switch.
    """
    first = vlans[0]
    probe = Session(dataclasses.replace(p.session.target, timeout=PROBE_TIMEOUT, retries=PROBE_RETRIES),
                    p.session.creds.for_vlan(first), p.session.stats)
    try:
        await probe.probe(next(iter(oids.BASE_PORT.values())))
    except SourceError as e:
        entries = decode.decode_bridge_fdb(switch, p.table("dot1dTpFdbTable"), default_ports, vlan=1)
        others = [v for v in vlans if v != 1]
        p.problem("dot1dTpFdbTable", "partial",
                  f"the per-VLAN contexts do not answer (VLAN {first}: {e}); VLAN(s) "
                  f"{_ranges(others)} could not be read, only the default context (VLAN 1) was: "
                  f"{vlan_context_fix(p.session.creds)}", source="dot1dTpFdbTable vlan contexts")
        p.notes.append(f"Cisco per-VLAN FDB: contexts do not answer; kept {len(entries)} row(s) of the "
                       "default context")
        rows["dot1dTpFdbTable@default"] = len(entries)
        return entries

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
                p.problem("dot1dTpFdbTable", e.kind, str(e), source=f"dot1dTpFdbTable vlan {vlan}")
                return
            for m in problems:
                p.problem("dot1dTpFdbTable", "partial", m, source=f"dot1dTpFdbTable vlan {vlan}")
            ports = decode.PortResolver(decode.bridge_port_map(base), ifindexes)
            entries = decode.decode_bridge_fdb(switch, fdb, ports, vlan=vlan)
            out.extend(entries)
            rows[f"dot1dTpFdbTable@{vlan}"] = len(entries)

    await asyncio.gather(*(one(v) for v in vlans))
    p.notes.append(f"Cisco per-VLAN FDB: walked {len(vlans)} VLAN(s)"
                   + (f", {len(failed)} failed ({_ranges(failed)})" if failed else ""))
    if not failed:
        p.ok.append("dot1dTpFdbTable")
    out.sort(key=lambda e: (e.vlan or 0, e.mac))
    return out


def vlan_context_fix(creds: Credentials) -> str:
    """What to configure on a Cisco switch so that the per-VLAN bridge instances answer."""
    if creds.version == "3":
        level = {"authPriv": "priv", "authNoPriv": "auth"}.get(creds.security_level, "noauth")
        return (f'give the SNMPv3 group of user "{creds.user}" the VLAN contexts: '
                f"`snmp-server group GROUP v3 {level} context vlan- match prefix` (IOS/IOS-XE; GROUP is the "
                f"user's group, with the same read view)")
    return ("community@VLAN indexing must be allowed for this community: on IOS/IOS-XE define it as "
            "`snmp-server community COMMUNITY RO` (a view that excludes BRIDGE-MIB, or an SNMPv3-only "
            "group, refuses it); on NX-OS map it to each VLAN's context "
            "(`snmp-server mib community-map COMMUNITY context vlan-N`); or poll with SNMPv3 contexts")


def _ranges(vlans: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    out: list[str] = []
    for v in sorted(set(vlans)):
        if out and "-" not in out[-1] and int(out[-1]) == v - 1:
            out[-1] = f"{out[-1]}-{v}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == v - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{v}"
        else:
            out.append(str(v))
    return ", ".join(out) or "none"


def table_statuses(snap: Snapshot, problems: Iterable[TableProblem],
                   rows: Mapping[str, int]) -> tuple[TableStatus, ...]:
    """One status per logical table of an SNMP poll (pure).

    A problem's ``source`` names its MIB table (and maybe more: "dot1dTpFdbTable vlan 20").
    A problem with a MIB table its logical table needs leaves that table incomplete. An
    agent that does not implement a MIB answers a walk with nothing at all, so for the
    tables a switch may lack, "no rows" means "not offered" (another method is asked).
    """
    by_table: dict[str, list[TableProblem]] = {}
    incomplete: set[str] = set()
    for pr in problems:
        mib = pr.source.split(" ", 1)[0]
        table = oids.LOGICAL.get(mib, "other")
        by_table.setdefault(table, []).append(pr)
        if mib not in oids.OPTIONAL:
            incomplete.add(table)
    count = {"system": int(snap.system is not None), "interfaces": len(snap.interfaces), "fdb": len(snap.fdb),
             "arp": len(snap.arp), "lldp": sum(1 for n in snap.lldp if n.protocol != "cdp"),
             "cdp": sum(1 for n in snap.lldp if n.protocol == "cdp")}
    supported = {
        "system": snap.system is not None,
        "interfaces": bool(snap.interfaces),
        "fdb": bool(snap.fdb),  # an active switch always learns something; empty: FDB view unreachable
        "arp": bool(snap.arp) or any(rows.get(t, 0) for t in ("ipNetToPhysicalTable", "ipNetToMediaTable")),
        "lldp": bool(count["lldp"]) or any(rows.get(t, 0) for t in ("lldpLocPortTable", "lldpRemTable")),
        "cdp": True,  # an empty CDP cache is an answer: most switches have no CDP neighbours
    }
    return tuple(
        TableStatus(table=t, method="snmp", complete=t not in incomplete, supported=supported[t],  # type: ignore[arg-type]
                    rows=count[t], problems=tuple(by_table.get(t, ())))
        for t in TABLES)
