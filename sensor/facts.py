"""Typed facts: what one source said about one switch, router or exporter.

Collectors produce these and know nothing about devices; the correlator consumes
them. MAC addresses are always lower-case, colon-separated (``00:09:fb:12:34:56``)
so that facts from SNMP, CLI and NETCONF compare equal.
"""

from __future__ import annotations

import msgspec


class SwitchInfo(msgspec.Struct, frozen=True, kw_only=True):
    switch: str
    sys_name: str = ""
    sys_descr: str = ""
    sys_object_id: str = ""
    sys_uptime: int | None = None  # hundredths of a second, as SNMP reports it
    base_mac: str | None = None


class Interface(msgspec.Struct, frozen=True, kw_only=True):
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


class FdbEntry(msgspec.Struct, frozen=True, kw_only=True):
    switch: str
    ifindex: int | None  # None when the bridge port has no ifIndex mapping
    vlan: int | None
    mac: str
    status: str = "learned"  # learned, self, mgmt, invalid, other


class ArpEntry(msgspec.Struct, frozen=True, kw_only=True):
    router: str
    ifindex: int | None
    ip: str
    mac: str


class LldpNeighbor(msgspec.Struct, frozen=True, kw_only=True):
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


class FlowRecord(msgspec.Struct, frozen=True, kw_only=True):
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


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one poll of one switch said, at one time.

    The correlator replaces what this switch said before with this snapshot, so
    a table that failed to load is listed in ``errors`` (and ``tables_ok`` says
    which tables are complete) rather than silently looking empty.
    """

    switch: str
    taken_at: float
    method: str
    system: SwitchInfo | None = None
    interfaces: tuple[Interface, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    arp: tuple[ArpEntry, ...] = ()
    lldp: tuple[LldpNeighbor, ...] = ()
    tables_ok: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # how data was interpreted (fallbacks taken), not failures
    # Which method ("snmp", "cli", "netconf") produced each logical table (system, interfaces,
    # fdb, arp, lldp, cdp) when a switch is polled with several methods; sensor/methods.py.
    table_methods: tuple[tuple[str, str], ...] = ()
