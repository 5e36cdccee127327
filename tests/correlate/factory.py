"""Small builders for snapshots, shaped like the lab (sw1 access, dist router)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from collectors.facts import ArpEntry, FdbEntry, Interface, LldpNeighbor, Snapshot, SwitchInfo

PUMP, MON, WS, PHONE, PC = ("58:42:e4:12:10:21", "00:09:fb:12:10:22", "f8:bc:12:12:10:23",
                            "00:1e:7a:12:10:24", "3c:52:82:12:10:25")
PHONE_PC_PORT = "00:1e:7a:12:10:26"
SW1_BASE, DIST_BASE = "94:18:82:01:00:00", "28:99:3a:02:00:00"
SW1_UPLINK_MAC, DIST_DOWN_MAC = "94:18:82:01:00:18", "28:99:3a:02:00:01"
IPS = {PUMP: "198.18.10.21", MON: "198.18.10.22", WS: "198.18.10.23", PHONE: "198.18.10.24", PC: "198.18.10.25"}
# sw1 ifIndex: ge24 = 3, ge1..ge4 = 4..7, ge5 = 8 (spare)
SW1_PORTS = {"ge24": 3, "ge1": 4, "ge2": 5, "ge3": 6, "ge4": 7, "ge5": 8}
DEVICE_PORT = {PUMP: "ge1", MON: "ge2", WS: "ge3", PHONE: "ge4", PC: "ge4"}


def iface(switch: str, ifindex: int, name: str, mac: str | None = None, **kw: object) -> Interface:
    return Interface(switch=switch, ifindex=ifindex, name=name, phys_address=mac, **kw)  # type: ignore[arg-type]


def sw1(t: float, where: dict[str, str] | None = None, *, phone_lldp: bool = True, name: str = "sw1",
        extra_fdb: Sequence[FdbEntry] = ()) -> Snapshot:
    """sw1 with devices on their ports (``where`` maps MAC -> port name, default the lab's)."""
    where = dict(DEVICE_PORT) if where is None else where
    ifaces = [iface(name, i, n, f"94:18:82:01:00:{int(n[2:]):02x}") for n, i in SW1_PORTS.items()]
    fdb = [FdbEntry(switch=name, ifindex=SW1_PORTS[p], vlan=10, mac=m) for m, p in where.items()]
    if PHONE in where:
        fdb.append(FdbEntry(switch=name, ifindex=SW1_PORTS[where[PHONE]], vlan=10, mac=PHONE_PC_PORT))
    fdb += [FdbEntry(switch=name, ifindex=SW1_PORTS["ge24"], vlan=10, mac=DIST_BASE),
            FdbEntry(switch=name, ifindex=SW1_PORTS["ge24"], vlan=10, mac=DIST_DOWN_MAC),
            FdbEntry(switch=name, ifindex=None, vlan=10, mac=SW1_BASE, status="self"),
            FdbEntry(switch=name, ifindex=SW1_PORTS["ge1"], vlan=10, mac="01:80:c2:00:00:0e"),
            *extra_fdb]
    lldp = [LldpNeighbor(switch=name, ifindex=SW1_PORTS["ge24"], chassis_id=DIST_BASE, port_id="ge1",
                         sys_name="dist", capabilities=("bridge", "router"))]
    if phone_lldp and PHONE in where:
        lldp.append(LldpNeighbor(switch=name, ifindex=SW1_PORTS[where[PHONE]], chassis_id=PHONE, port_id="eth0",
                                 sys_name="SEP001E7A121024", sys_desc="Cisco IP Phone", capabilities=("bridge", "telephone")))
    return Snapshot(switch=name, taken_at=t, method="snmp",
                    system=SwitchInfo(switch=name, sys_name=name, base_mac=SW1_BASE),
                    interfaces=tuple(ifaces), fdb=tuple(fdb), lldp=tuple(lldp))


def dist(t: float, macs: Iterable[str] | None = None, *, arp: dict[str, str] | None = None) -> Snapshot:
    """dist: everything from sw1 is learned on ge1 (ifIndex 4), ARP for every device."""
    macs = [*DEVICE_PORT, PHONE_PC_PORT] if macs is None else list(macs)
    arp = {m: IPS[m] for m in macs if m in IPS} if arp is None else arp
    fdb = [FdbEntry(switch="dist", ifindex=4, vlan=10, mac=m) for m in [*macs, SW1_UPLINK_MAC]]
    fdb.append(FdbEntry(switch="dist", ifindex=None, vlan=10, mac=DIST_BASE, status="self"))
    return Snapshot(
        switch="dist", taken_at=t, method="snmp",
        system=SwitchInfo(switch="dist", sys_name="dist", base_mac=DIST_BASE),
        interfaces=(iface("dist", 4, "ge1", DIST_DOWN_MAC), iface("dist", 5, "ge2", "28:99:3a:02:00:02")),
        fdb=tuple(fdb),
        arp=tuple(ArpEntry(router="dist", ifindex=3, ip=ip, mac=m) for m, ip in arp.items()),
        lldp=(LldpNeighbor(switch="dist", ifindex=4, chassis_id=SW1_BASE, port_id="ge24", sys_name="sw1",
                           capabilities=("bridge",)),),
    )
