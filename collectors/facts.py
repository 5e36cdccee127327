"""Typed facts: what one source said about one switch, router or exporter.

Collectors produce these and know nothing about devices; the correlator consumes
them. MAC addresses are always lower-case, colon-separated (``00:09:fb:12:34:56``)
so that facts from SNMP, CLI and NETCONF compare equal.
"""

from __future__ import annotations

from typing import Literal

import msgspec

# The logical tables every method reads (SNMP MIB tables, CLI commands and NETCONF models
# all map onto these).
TABLES = ("system", "interfaces", "fdb", "arp", "lldp", "cdp")
TableName = Literal["system", "interfaces", "fdb", "arp", "lldp", "cdp"]

# What kind of failure a problem is; callers decide on this, never on an error's words.
#   timeout      the switch did not answer in time
#   auth         it refused our credentials
#   unsupported  it does not implement the table (an empty answer is no answer)
#   partial      the table was read in part (a loop, a row cap, one VLAN context of many)
#   refused      it answered with an error for this table
#   parse        its answer could not be understood
#   other        anything else
ProblemKind = Literal["timeout", "auth", "unsupported", "partial", "refused", "parse", "other"]


# gc=False on every fact: they are immutable and hold only strings, numbers and tuples of facts,
# so they can never be part of a reference cycle. A campus's snapshots hold ~300,000 of them, which
# the cyclic collector then neither keeps a header for nor walks in every full collection.
class SwitchInfo(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    switch: str
    sys_name: str = ""
    sys_descr: str = ""
    sys_object_id: str = ""
    sys_uptime: int | None = None  # hundredths of a second, as SNMP reports it
    base_mac: str | None = None
    # The switch's own LLDP chassis id (what its neighbours receive), normalised like
    # LldpNeighbor.chassis_id: a MAC subtype as ``aa:bb:cc:dd:ee:ff``, anything else as sent.
    lldp_chassis_id: str | None = None


class Interface(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    switch: str
    ifindex: int
    name: str = ""
    descr: str = ""
    alias: str = ""
    if_type: int | None = None
    speed: int | None = None  # Mbit/s (ifHighSpeed)
    oper_up: bool | None = None
    phys_address: str | None = None
    vlan_mode: str | None = None  # "access", "trunk" or None when unknown
    lag_ifindex: int | None = None  # the aggregate this port is a member of


class FdbEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    switch: str
    ifindex: int | None  # None when the bridge port has no ifIndex mapping
    vlan: int | None
    mac: str
    status: str = "learned"  # learned, self, mgmt, invalid, other


class ArpEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    router: str
    ifindex: int | None
    ip: str
    mac: str


class LldpNeighbor(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    switch: str
    ifindex: int | None
    protocol: str = "lldp"  # "lldp" or "cdp"
    chassis_id: str = ""
    port_id: str = ""
    port_descr: str = ""
    sys_name: str = ""
    sys_desc: str = ""
    capabilities: tuple[str, ...] = ()
    mgmt_ip: str | None = None
    platform: str = ""
    # LLDP-MED (ANSI/TIA-1057) device class and inventory, when the neighbour sends them.
    med_class: str | None = None  # "network", "endpoint-1", "endpoint-2" or "endpoint-3"
    med_manufacturer: str = ""
    med_model: str = ""
    med_hardware: str = ""
    med_firmware: str = ""
    med_software: str = ""
    med_serial: str = ""
    med_asset: str = ""


class FlowRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    exporter: str
    start: float
    end: float
    src: str
    dst: str
    sport: int
    dport: int
    proto: int
    bytes: int
    packets: int
    src_mac: str | None = None
    dst_mac: str | None = None
    vlan: int | None = None


class TableProblem(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One thing that went wrong reading a table: its kind, and the words for the user."""

    kind: ProblemKind
    detail: str
    source: str = ""  # the MIB table, command or model that failed ("dot1qTpFdbTable", "show arp")

    def __str__(self) -> str:
        return f"{self.source}: {self.detail}" if self.source else self.detail


class TableStatus(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """How one logical table of one poll was read.

    ``complete``: the table was read whole, so an empty table means empty (what device
    absence is decided on). ``supported``: the method implements it; an SNMP agent that
    returns no forwarding rows at all is taken as not offering them (an active switch
    always learns something), so another method is asked, but nobody is marked absent
    only because of that.
    """

    table: TableName
    method: str
    complete: bool
    supported: bool = True
    rows: int = 0
    problems: tuple[TableProblem, ...] = ()

    @property
    def provided(self) -> bool:
        """Whether this method gave the table (no other method needs to be asked for it)."""
        return self.complete and self.supported


class Snapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Everything one poll of one switch said, at one time.

    The correlator replaces what this switch said before with this snapshot, so a
    table that failed to load says so in ``tables`` (typed: which method, complete or
    not, and why) rather than silently looking empty. ``errors`` are the same problems
    in words, for people.
    """

    switch: str
    taken_at: float
    method: str
    system: SwitchInfo | None = None
    interfaces: tuple[Interface, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    arp: tuple[ArpEntry, ...] = ()
    lldp: tuple[LldpNeighbor, ...] = ()
    tables_ok: tuple[str, ...] = ()  # the source tables read whole (SNMP: MIB tables), for people
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # how data was interpreted (fallbacks taken), not failures
    # One status per logical table; several methods may have contributed (sensor/switches/methods.py).
    tables: tuple[TableStatus, ...] = ()

    def status(self, table: str) -> TableStatus | None:
        return next((t for t in self.tables if t.table == table), None)

    def complete(self, table: str) -> bool:
        """Whether ``table`` was read whole. A snapshot without any status (built by hand or
        from a recording) is taken as complete."""
        st = self.status(table)
        return st.complete if st is not None else not self.tables

    @property
    def table_methods(self) -> dict[str, str]:
        """table -> the method that produced it."""
        return {t.table: t.method for t in self.tables}
