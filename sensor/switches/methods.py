"""Poll one switch with its configured methods, in order of preference, into one Snapshot.

``methods = ["snmp", "cli"]`` means: poll over SNMP; every table SNMP could not provide
(the walk failed, or the agent does not implement the MIB: no bridge, LLDP or IP
neighbour rows at all) is read over the next method that offers it, and so on. A method
is only contacted when it may provide a missing table (a Linux switch's CLI has no CDP
table, so it is not asked for one; ``system`` alone never costs another session).

Facts from different methods are re-keyed by interface name into the key space of the
method that produced the interface table (``rekey``): an FDB read over CLI lands on the
same ifIndex as the SNMP interface table says. :class:`PortMemory` keeps that stable across
polls too, so a Cisco switch whose SNMP fails once (and whose CLI has no ifIndex) keeps its
real ifIndex keys rather than moving every device to synthetic ones.

The snapshot records which method produced each table (``Snapshot.table_methods``). This
is the one place that knows about several methods; the per-switch source and ``sensor
poll`` both call :func:`poll_switch`. Which tables a method gave, and why it gave no
more, comes typed from the collectors (``Snapshot.tables``): nothing here reads an error's
words.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from collectors.cli.names import SYNTHETIC_BASE, canonical_name, synthetic_key
from collectors.facts import TABLES, ArpEntry, FdbEntry, Interface, LldpNeighbor, Snapshot, TableProblem
from sensor.config import SwitchSection
from sensor.errors import USER_ERRORS, SourceError
from sensor.switches.targets import cli_target, netconf_target, snmp_target

if TYPE_CHECKING:
    from collectors.snmp import PollResult
    from collectors.tables import Tables

# A missing table among these is worth contacting the next method; "system" alone is not.
TRIGGERS = frozenset({"interfaces", "fdb", "arp", "lldp", "cdp"})
METHODS = ("snmp", "cli", "netconf")


@dataclass
class MethodResult:
    """What one method said about one switch, in that method's own key space."""

    method: str
    snapshot: Snapshot
    provided: frozenset[str]  # logical tables read completely
    names: dict[int, tuple[str, ...]]  # key -> the port's names as this method spelled them
    table_problems: dict[str, tuple[TableProblem, ...]] = field(default_factory=dict)  # logical table -> problems
    snmp: PollResult | None = None  # request/varbind counts for SNMP

    def rows(self, table: str) -> int:
        s = self.snapshot
        return {"system": int(s.system is not None), "interfaces": len(s.interfaces), "fdb": len(s.fdb),
                "arp": len(s.arp), "lldp": sum(1 for n in s.lldp if n.protocol != "cdp"),
                "cdp": sum(1 for n in s.lldp if n.protocol == "cdp")}[table]


@dataclass
class SwitchPoll:
    """One poll of one switch over one or more methods."""

    snapshot: Snapshot
    results: list[MethodResult]  # the methods that answered, in the order they were asked
    failures: dict[str, str]  # method -> why it gave nothing
    duration_s: float

    @property
    def snmp(self) -> PollResult | None:
        return next((r.snmp for r in self.results if r.snmp is not None), None)

    @property
    def table_methods(self) -> dict[str, str]:
        return self.snapshot.table_methods


# --------------------------------------------------------------- what a method can offer
def usable_methods(sw: SwitchSection) -> list[str]:
    """The switch's methods that have their [switch.<method>] table, in order of preference."""
    return [m for m in sw.methods if getattr(sw, m, None) is not None]


def offers(sw: SwitchSection, method: str) -> frozenset[str]:
    """The tables a method may provide for this switch, known before contacting it."""
    if method == "cli" and sw.cli is not None:
        from collectors.cli.ssh import COMMANDS

        tables = {t for t, _ in COMMANDS.get(sw.cli.platform, [])}
        return frozenset(tables | ({"system"} if sw.cli.platform != "linux" else set()))
    if method == "netconf":
        return frozenset({"system", "interfaces", "fdb", "arp", "lldp"})  # no CDP model
    return frozenset(TABLES)


# --------------------------------------------------------------- one method
async def poll_snmp(sw: SwitchSection, clock: Callable[[], float],
                    row_hints: Mapping[str, int] | None = None) -> MethodResult:
    """``row_hints``: the previous SNMP poll's rows per table (they size the walks)."""
    from collectors.snmp import poll

    target, creds = snmp_target(sw)
    res = await poll(sw.name, target, creds, vlan_indexing=sw.snmp.vlan_indexing if sw.snmp else None,
                     clock=clock, row_hints=row_hints)
    return snmp_result(res)


def snmp_result(res: PollResult) -> MethodResult:
    """Which logical tables an SNMP poll provided (pure)."""
    snap = res.snapshot
    names: dict[int, tuple[str, ...]] = {
        i.ifindex: tuple(n for n in (i.name, i.descr) if n) for i in snap.interfaces}
    return MethodResult("snmp", snap, _provided(snap), names, _problems(snap), snmp=res)


def tables_result(method: str, t: Tables, taken_at: float) -> MethodResult:
    """A CLI or NETCONF poll's tables as a MethodResult (pure)."""
    snap = t.snapshot(taken_at, method)
    names: dict[int, tuple[str, ...]] = {k: (v,) for k, v in t.ports.names.items()}
    for i in snap.interfaces:
        names[i.ifindex] = tuple(dict.fromkeys((*names.get(i.ifindex, ()), i.name, i.descr)))
    return MethodResult(method, snap, _provided(snap), names, _problems(snap))


def _provided(snap: Snapshot) -> frozenset[str]:
    return frozenset(st.table for st in snap.tables if st.provided)


def _problems(snap: Snapshot) -> dict[str, tuple[TableProblem, ...]]:
    return {st.table: st.problems for st in snap.tables if st.problems}


async def poll_cli(sw: SwitchSection, clock: Callable[[], float]) -> MethodResult:
    from collectors.cli.ssh import poll

    tables, taken_at = await poll(sw.name, cli_target(sw), clock=clock)
    return tables_result("cli", tables, taken_at)


async def poll_netconf(sw: SwitchSection, clock: Callable[[], float]) -> MethodResult:
    from collectors.netconf import poll

    tables, taken_at = await poll(sw.name, netconf_target(sw), clock=clock)
    return tables_result("netconf", tables, taken_at)


Poller = Callable[[SwitchSection, Callable[[], float]], Awaitable[MethodResult]]
POLLERS: dict[str, Poller] = {
    "snmp": poll_snmp, "cli": poll_cli, "netconf": poll_netconf}


# --------------------------------------------------------------- all methods
async def poll_switch(sw: SwitchSection, *, clock: Callable[[], float] = time.time,
                      memory: PortMemory | None = None,
                      pollers: dict[str, Poller] | None = None) -> SwitchPoll:
    """Poll ``sw`` with its methods in order of preference; raise SourceError when none answered.

    The caller bounds the whole poll with its deadline.
    """
    pollers = pollers or POLLERS
    started = time.monotonic()
    methods = usable_methods(sw)
    if not methods:
        raise SourceError(f"switch {sw.name} has no table for any of its methods ({', '.join(sw.methods)})")
    missing = set(TABLES)
    results: list[MethodResult] = []
    failures: dict[str, str] = {}
    for method in methods:
        if results and not (missing & TRIGGERS & offers(sw, method)):
            continue
        try:
            r = await pollers[method](sw, clock)
        except USER_ERRORS as e:  # SourceError, or a secret file that went missing or changed mode
            failures[method] = str(e)
            continue
        results.append(r)
        missing -= r.provided
        if not missing & TRIGGERS:
            break
    if not results:
        if len(failures) == 1:
            raise SourceError(next(iter(failures.values())))
        raise SourceError("; ".join(f"{m}: {why}" for m, why in failures.items()))
    snap = merge(sw.name, results, failures)
    if memory is not None:
        snap = memory.apply(snap)
    return SwitchPoll(snap, results, failures, time.monotonic() - started)


def merge(switch: str, results: list[MethodResult], failures: dict[str, str]) -> Snapshot:
    """One snapshot from several methods' answers, keyed as the interface table's method keys ports (pure)."""
    chosen: dict[str, MethodResult] = {}
    for t in TABLES:
        r = next((r for r in results if t in r.provided), None)
        if r is None:  # nobody read it completely: the first partial answer, with its problems
            r = next((r for r in results if r.rows(t)), None) or \
                next((r for r in results if t in r.table_problems), results[0])
        chosen[t] = r
    statuses = tuple(st for t in TABLES if (st := chosen[t].snapshot.status(t)) is not None)
    if len(results) == 1:  # one method answered: its snapshot as it is
        only = results[0].snapshot
        return msgspec.structs.replace(only, tables=statuses, notes=(*only.notes, *(
            f"{m} gave nothing ({why}); {only.method} was used" for m, why in failures.items())))
    base = chosen["interfaces"]
    notes: list[str] = []
    errors: list[str] = []
    for m, why in failures.items():
        notes.append(f"{m} gave nothing ({why}); other methods were used")
    for r in results:
        notes.extend(r.snapshot.notes)
        for t, problems in r.table_problems.items():
            if chosen[t] is r:
                errors.extend(_text(r.method, t, p) for p in problems)
            else:
                notes.append(f"{t}: {r.method} incomplete ({_text(r.method, t, problems[0])}); "
                             f"read over {chosen[t].method}")
    first = results[0]
    for t in TABLES:
        if chosen[t] is not first and t not in first.table_problems and t in TRIGGERS:
            notes.append(f"{t}: not provided over {first.method}; read over {chosen[t].method}")

    remaps = {r.method: rekey_map(base, r) for r in results if r is not base}

    def remap(r: MethodResult, key: int | None) -> int | None:
        return key if key is None or r is base else remaps[r.method].get(key, key)

    fdb_r, arp_r = chosen["fdb"], chosen["arp"]
    fdb = tuple(f if fdb_r is base else msgspec.structs.replace(f, ifindex=remap(fdb_r, f.ifindex))
                for f in fdb_r.snapshot.fdb)
    arp = tuple(a if arp_r is base else msgspec.structs.replace(a, ifindex=remap(arp_r, a.ifindex))
                for a in arp_r.snapshot.arp)
    lldp: list[LldpNeighbor] = []
    for proto in ("lldp", "cdp"):
        r = chosen[proto]
        lldp.extend(n if r is base else msgspec.structs.replace(n, ifindex=remap(r, n.ifindex))
                    for n in r.snapshot.lldp if (n.protocol == "cdp") == (proto == "cdp"))
    system = chosen["system"].snapshot.system or next((r.snapshot.system for r in results if r.snapshot.system),
                                                      None)
    if system is not None:
        # The switch's identity may come from another method than its name (SNMP without LLDP-MIB, CLI
        # without a bridge MAC): the first method that says each fills it in.
        others = [r.snapshot.system for r in results if r.snapshot.system is not None]
        system = msgspec.structs.replace(
            system, base_mac=system.base_mac or next((s.base_mac for s in others if s.base_mac), None),
            lldp_chassis_id=system.lldp_chassis_id or next((s.lldp_chassis_id for s in others
                                                            if s.lldp_chassis_id), None))

    tables_ok: list[str] = []
    for t in TABLES:
        r = chosen[t]
        if r.method == "snmp":
            from collectors.snmp.oids import LOGICAL  # SNMP answered: pysnmp is loaded already

            tables_ok.extend(x for x in r.snapshot.tables_ok if LOGICAL.get(x) == t)
        elif t in r.provided:
            tables_ok.append(t)
    unmatched = sum(1 for r in results if r is not base for k, v in remaps[r.method].items()
                    if v >= SYNTHETIC_BASE and k < SYNTHETIC_BASE)
    if unmatched:
        notes.append(f"{unmatched} port(s) named by another method are not in the {base.method} interface "
                     "table: keyed by name (synthetic keys >= 2**30)")
    return Snapshot(
        switch=switch, taken_at=results[0].snapshot.taken_at, method=results[0].method, system=system,
        interfaces=base.snapshot.interfaces, fdb=fdb, arp=arp, lldp=tuple(lldp), tables_ok=tuple(tables_ok),
        errors=tuple(dict.fromkeys(errors)), notes=tuple(dict.fromkeys(notes)), tables=statuses)


def _text(method: str, table: str, problem: TableProblem) -> str:
    """A problem in words: SNMP problems name their MIB table, the others their logical table."""
    return str(problem) if method == "snmp" else f"{table}: {problem}"


def _lookup_keys(names: Iterable[tuple[int, tuple[str, ...]]]) -> tuple[dict[str, int], dict[str, int]]:
    exact: dict[str, int] = {}
    canon: dict[str, int] = {}
    for key, spellings in names:
        for n in spellings:
            exact.setdefault(n.strip().lower(), key)
            canon.setdefault(canonical_name(n).lower(), key)
    return exact, canon


def rekey_map(base: MethodResult, other: MethodResult) -> dict[int, int]:
    """other's port keys -> base's, matched by interface name (pure).

    A port base does not list keeps other's key when it is a real ifIndex that base
    does not use (both read the same ifIndex space), and otherwise gets the synthetic
    key of its name (what a name-keyed method would give it).
    """
    base_names = {i.ifindex: tuple(n for n in (i.name, i.descr) if n) for i in base.snapshot.interfaces}
    exact, canon = _lookup_keys(base_names.items())
    base_real = any(k < SYNTHETIC_BASE for k in base_names)
    used = set(base_names)
    out: dict[int, int] = {}
    for key in _keys_of(other.snapshot):
        spellings = other.names.get(key, ())
        new = next((exact[n.strip().lower()] for n in spellings if n.strip().lower() in exact), None)
        if new is None:
            new = next((canon[canonical_name(n).lower()] for n in spellings
                        if canonical_name(n).lower() in canon), None)
        if new is None:
            if key < SYNTHETIC_BASE and base_real and key not in used:
                new = key
            elif spellings:
                new = synthetic_key(canonical_name(spellings[0]))
                while new in used:
                    new += 1
            else:
                new = key
        out[key] = new
    return out


def _keys_of(snap: Snapshot) -> set[int]:
    facts: list[FdbEntry | ArpEntry | LldpNeighbor] = [*snap.fdb, *snap.arp, *snap.lldp]
    return {f.ifindex for f in facts if f.ifindex is not None}


# --------------------------------------------------------------- across polls
class PortMemory:
    """Port name -> real ifIndex, remembered from earlier polls of one switch.

    When this poll's interface table came from a method without ifIndex (synthetic keys),
    ports seen before with a real ifIndex keep it, so correlation sees the same port.
    """

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}

    def apply(self, snap: Snapshot) -> Snapshot:
        real = {i.ifindex for i in snap.interfaces if i.ifindex < SYNTHETIC_BASE}
        if real or not snap.interfaces:
            self.keys = {k: i.ifindex for i in snap.interfaces for k in _names(i)}
            return snap
        mapping: dict[int, int] = {}
        for i in snap.interfaces:
            old = next((self.keys[n] for n in _names(i) if n in self.keys), None)
            if old is not None and old not in mapping.values():
                mapping[i.ifindex] = old
        if not mapping:
            return snap

        def m(k: int | None) -> int | None:
            return mapping.get(k, k) if k is not None else None

        def mi(i: Interface) -> Interface:
            return msgspec.structs.replace(i, ifindex=mapping.get(i.ifindex, i.ifindex), lag_ifindex=m(i.lag_ifindex))

        return msgspec.structs.replace(
            snap, interfaces=tuple(mi(i) for i in snap.interfaces),
            fdb=tuple(msgspec.structs.replace(f, ifindex=m(f.ifindex)) for f in snap.fdb),
            arp=tuple(msgspec.structs.replace(a, ifindex=m(a.ifindex)) for a in snap.arp),
            lldp=tuple(msgspec.structs.replace(n, ifindex=m(n.ifindex)) for n in snap.lldp),
            notes=(*snap.notes, f"{len(mapping)} port(s) keep the ifIndex an earlier poll read"))


def _names(i: Interface) -> list[str]:
    return [canonical_name(n).lower() for n in (i.name, i.descr) if n]
