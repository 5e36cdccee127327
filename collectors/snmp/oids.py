"""Numeric OIDs of every column the SNMP collector reads (no MIB files at run time).

Each table is a mapping of column name -> OID tuple; the collector walks only these
columns, and the decoders look rows up by the same names.
"""

from __future__ import annotations

OID = tuple[int, ...]


def oid(text: str) -> OID:
    return tuple(int(p) for p in text.strip(".").split("."))


# SNMPv2-MIB system group, BRIDGE-MIB dot1dBaseBridgeAddress and LLDP-MIB's local chassis id:
# scalars read with one GET (an agent without BRIDGE-MIB or LLDP-MIB leaves them out).
SYSTEM: dict[str, OID] = {
    "sysDescr": oid("1.3.6.1.2.1.1.1.0"),
    "sysObjectID": oid("1.3.6.1.2.1.1.2.0"),
    "sysUpTime": oid("1.3.6.1.2.1.1.3.0"),
    "sysName": oid("1.3.6.1.2.1.1.5.0"),
    "dot1dBaseBridgeAddress": oid("1.3.6.1.2.1.17.1.1.0"),
    "lldpLocChassisIdSubtype": oid("1.0.8802.1.1.2.1.3.1.0"),
    "lldpLocChassisId": oid("1.0.8802.1.1.2.1.3.2.0"),
}

# IF-MIB ifTable and ifXTable.
IF_TABLE: dict[str, OID] = {
    "ifDescr": oid("1.3.6.1.2.1.2.2.1.2"),
    "ifType": oid("1.3.6.1.2.1.2.2.1.3"),
    "ifSpeed": oid("1.3.6.1.2.1.2.2.1.5"),
    "ifPhysAddress": oid("1.3.6.1.2.1.2.2.1.6"),
    "ifOperStatus": oid("1.3.6.1.2.1.2.2.1.8"),
}
IFX_TABLE: dict[str, OID] = {
    "ifName": oid("1.3.6.1.2.1.31.1.1.1.1"),
    "ifHighSpeed": oid("1.3.6.1.2.1.31.1.1.1.15"),
    "ifAlias": oid("1.3.6.1.2.1.31.1.1.1.18"),
}

# BRIDGE-MIB: bridge port -> ifIndex, and the plain (single FDB) forwarding table.
BASE_PORT: dict[str, OID] = {"dot1dBasePortIfIndex": oid("1.3.6.1.2.1.17.1.4.1.2")}
DOT1D_FDB: dict[str, OID] = {
    "dot1dTpFdbPort": oid("1.3.6.1.2.1.17.4.3.1.2"),
    "dot1dTpFdbStatus": oid("1.3.6.1.2.1.17.4.3.1.3"),
}

# Q-BRIDGE-MIB: per-FDB-id forwarding table and FDB id -> VLAN.
DOT1Q_FDB: dict[str, OID] = {
    "dot1qTpFdbPort": oid("1.3.6.1.2.1.17.7.1.2.2.1.2"),
    "dot1qTpFdbStatus": oid("1.3.6.1.2.1.17.7.1.2.2.1.3"),
}
DOT1Q_VLAN: dict[str, OID] = {"dot1qVlanFdbId": oid("1.3.6.1.2.1.17.7.1.4.2.1.3")}

# IP-MIB neighbours: the modern table (IPv4 + IPv6) and the deprecated IPv4 one.
IP_NET_TO_PHYSICAL: dict[str, OID] = {
    "ipNetToPhysicalPhysAddress": oid("1.3.6.1.2.1.4.35.1.4"),
    "ipNetToPhysicalType": oid("1.3.6.1.2.1.4.35.1.6"),
}
IP_NET_TO_MEDIA: dict[str, OID] = {
    "ipNetToMediaPhysAddress": oid("1.3.6.1.2.1.4.22.1.2"),
    "ipNetToMediaType": oid("1.3.6.1.2.1.4.22.1.4"),
}

# LLDP-MIB (IEEE 802.1AB-2005).
LLDP_LOC_PORT: dict[str, OID] = {
    "lldpLocPortIdSubtype": oid("1.0.8802.1.1.2.1.3.7.1.2"),
    "lldpLocPortId": oid("1.0.8802.1.1.2.1.3.7.1.3"),
    "lldpLocPortDesc": oid("1.0.8802.1.1.2.1.3.7.1.4"),
}
LLDP_REM: dict[str, OID] = {
    "lldpRemChassisIdSubtype": oid("1.0.8802.1.1.2.1.4.1.1.4"),
    "lldpRemChassisId": oid("1.0.8802.1.1.2.1.4.1.1.5"),
    "lldpRemPortIdSubtype": oid("1.0.8802.1.1.2.1.4.1.1.6"),
    "lldpRemPortId": oid("1.0.8802.1.1.2.1.4.1.1.7"),
    "lldpRemPortDesc": oid("1.0.8802.1.1.2.1.4.1.1.8"),
    "lldpRemSysName": oid("1.0.8802.1.1.2.1.4.1.1.9"),
    "lldpRemSysDesc": oid("1.0.8802.1.1.2.1.4.1.1.10"),
    "lldpRemSysCapEnabled": oid("1.0.8802.1.1.2.1.4.1.1.12"),
}
LLDP_REM_MAN_ADDR: dict[str, OID] = {"lldpRemManAddrIfSubtype": oid("1.0.8802.1.1.2.1.4.2.1.3")}

# LLDP-EXT-MED-MIB (ANSI/TIA-1057): the remote device class and inventory, indexed like
# lldpRemTable (TimeMark, LocalPortNum, RemIndex).
LLDP_MED_REM_CAP: dict[str, OID] = {"lldpXMedRemDeviceClass": oid("1.0.8802.1.1.2.1.5.4795.1.3.1.1.3")}
LLDP_MED_REM_INVENTORY: dict[str, OID] = {
    "lldpXMedRemHardwareRev": oid("1.0.8802.1.1.2.1.5.4795.1.3.3.1.1"),
    "lldpXMedRemFirmwareRev": oid("1.0.8802.1.1.2.1.5.4795.1.3.3.1.2"),
    "lldpXMedRemSoftwareRev": oid("1.0.8802.1.1.2.1.5.4795.1.3.3.1.3"),
    "lldpXMedRemSerialNum": oid("1.0.8802.1.1.2.1.5.4795.1.3.3.1.4"),
    "lldpXMedRemMfgName": oid("1.0.8802.1.1.2.1.5.4795.1.3.3.1.5"),
    "lldpXMedRemModelName": oid("1.0.8802.1.1.2.1.5.4795.1.3.3.1.6"),
    "lldpXMedRemAssetID": oid("1.0.8802.1.1.2.1.5.4795.1.3.3.1.7"),
}

# CISCO-CDP-MIB cdpCacheTable.
CDP_CACHE: dict[str, OID] = {
    "cdpCacheAddressType": oid("1.3.6.1.4.1.9.9.23.1.2.1.1.3"),
    "cdpCacheAddress": oid("1.3.6.1.4.1.9.9.23.1.2.1.1.4"),
    "cdpCacheDeviceId": oid("1.3.6.1.4.1.9.9.23.1.2.1.1.6"),
    "cdpCacheDevicePort": oid("1.3.6.1.4.1.9.9.23.1.2.1.1.7"),
    "cdpCachePlatform": oid("1.3.6.1.4.1.9.9.23.1.2.1.1.8"),
    "cdpCacheCapabilities": oid("1.3.6.1.4.1.9.9.23.1.2.1.1.9"),
}

# IEEE8023-LAG-MIB: which aggregate a port is attached to.
LAG: dict[str, OID] = {"dot3adAggPortAttachedAggID": oid("1.2.840.10006.300.43.1.2.1.1.13")}

# CISCO-VTP-MIB vtpVlanState/vtpVlanType (index: management domain, VLAN).
VTP_VLAN: dict[str, OID] = {
    "vtpVlanState": oid("1.3.6.1.4.1.9.9.46.1.3.1.1.2"),
    "vtpVlanType": oid("1.3.6.1.4.1.9.9.46.1.3.1.1.3"),
}

CISCO_ENTERPRISE: OID = oid("1.3.6.1.4.1.9")

# HUAWEI-L2MAM-MIB: the dynamic MAC table (index: MAC, VLAN, VSI; value: ifIndex), read when
# the bridge MIBs leave forwarding rows without a port.
HUAWEI_FDB: dict[str, OID] = {
    "hwDynFdbPort": oid("1.3.6.1.4.1.2011.5.25.42.2.1.3.1.4"),
}

# The tables of one poll, by the name used in Snapshot.tables_ok / errors.
TABLES: dict[str, dict[str, OID]] = {
    "ifTable": IF_TABLE,
    "ifXTable": IFX_TABLE,
    "dot1dBasePortTable": BASE_PORT,
    "dot1qTpFdbTable": DOT1Q_FDB,
    "dot1qVlanCurrentTable": DOT1Q_VLAN,
    "dot1dTpFdbTable": DOT1D_FDB,
    "ipNetToPhysicalTable": IP_NET_TO_PHYSICAL,
    "ipNetToMediaTable": IP_NET_TO_MEDIA,
    "lldpLocPortTable": LLDP_LOC_PORT,
    "lldpRemTable": LLDP_REM,
    "lldpRemManAddrTable": LLDP_REM_MAN_ADDR,
    "lldpXMedRemCapabilitiesTable": LLDP_MED_REM_CAP,
    "lldpXMedRemInventoryTable": LLDP_MED_REM_INVENTORY,
    "cdpCacheTable": CDP_CACHE,
    "dot3adAggPortTable": LAG,
}

# The logical table (collectors.facts.TABLES) each MIB table feeds.
LOGICAL: dict[str, str] = {
    "ifTable": "interfaces", "ifXTable": "interfaces", "dot3adAggPortTable": "interfaces",
    "dot1dBasePortTable": "fdb", "dot1qTpFdbTable": "fdb", "dot1qVlanCurrentTable": "fdb", "dot1dTpFdbTable": "fdb",
    "vtpVlanTable": "fdb", "hwDynFdbTable": "fdb",
    "ipNetToPhysicalTable": "arp", "ipNetToMediaTable": "arp",
    "lldpLocPortTable": "lldp", "lldpRemTable": "lldp", "lldpRemManAddrTable": "lldp",
    "lldpXMedRemCapabilitiesTable": "lldp", "lldpXMedRemInventoryTable": "lldp",
    "cdpCacheTable": "cdp",
}
# A failure of one of these loses nothing its logical table needs (LAG membership, LLDP
# management addresses and LLDP-MED inventory are extras): the table stays complete.
OPTIONAL = frozenset({"dot3adAggPortTable", "lldpRemManAddrTable", "lldpXMedRemCapabilitiesTable",
                      "lldpXMedRemInventoryTable"})
