"""Zones by clinical function: where a device belongs. Pure code, no I/O.

The defaults come from the classification (an infusion pump is medication delivery,
a patient monitor is patient monitoring, ...). The configuration's ``[[policy.zone]]``
tables extend a default zone or add one, and place devices by class, subnet, host,
MAC or switch port. The most specific match wins: MAC, switch port, host, subnet
(longest prefix), a server the flows show serving clinical applications, class,
then the default. The older ``[policy]`` keys (``workstation_classes``,
``expected_vlans``) are folded in here so one place says where a device belongs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sensor.config import PolicySection, ZoneSection
from sensor.ipnets import Network

EXTERNAL = "external"
GENERAL_IT = "general_it"
OTHER_MEDICAL = "other_medical"
CLINICAL_SERVERS = "clinical_servers"
CLINICAL_WORKSTATIONS = "clinical_workstations"


@dataclass(frozen=True)
class ZoneDef:
    name: str
    label: str
    protected: bool = False
    workstations: bool = False
    classes: frozenset[str] = frozenset()
    subnets: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()
    macs: frozenset[str] = frozenset()
    ports: frozenset[tuple[str, str]] = frozenset()
    vlans: frozenset[int] = frozenset()


# name, label, protected, workstations, default classes
DEFAULT_ZONES: tuple[tuple[str, str, bool, bool, tuple[str, ...]], ...] = (
    ("medication_delivery", "Infusion pumps (medication delivery)", True, False, ("infusion_pump",)),
    ("patient_monitoring", "Patient monitors and central stations' devices", True, False, ("patient_monitor",)),
    ("imaging", "Imaging modalities (DICOM)", True, False, ("imaging",)),
    ("laboratory", "Laboratory analyzers", True, False, ("lab_analyzer",)),
    (OTHER_MEDICAL, "Other medical devices", True, False, ("clinical_communications",)),
    (CLINICAL_WORKSTATIONS, "Clinical workstations", False, True, ("workstation",)),
    (CLINICAL_SERVERS, "Clinical servers (pharmacy, EMR/HL7 engine, PACS, central station)", False, False, ()),
    (GENERAL_IT, "General IT", False, False, ()),
    (EXTERNAL, "Outside the hospital's networks", False, False, ()),
)


def _norm_mac(mac: str) -> str:
    h = mac.replace(":", "").replace("-", "").lower()
    return ":".join(h[i:i + 2] for i in range(0, 12, 2))


def _split_port(text: str) -> tuple[str, str]:
    switch, _, port = text.partition(":")
    return switch, port


def build_zones(section: PolicySection) -> list[ZoneDef]:
    """The default zones with the configuration's zones merged in (a named default is extended)."""
    zones: dict[str, ZoneDef] = {
        n: ZoneDef(name=n, label=label, protected=prot, workstations=ws, classes=frozenset(cls))
        for n, label, prot, ws, cls in DEFAULT_ZONES
    }
    for z in section.zone:
        zones[z.name] = _merge(zones.get(z.name), z)
    # A class placed by configuration leaves its default zone.
    for z in section.zone:
        for other in list(zones.values()):
            if other.name != z.name and other.classes & set(z.classes):
                zones[other.name] = _replace(other, classes=other.classes - set(z.classes))
    # The older keys, still honoured: workstation classes join the clinical workstations'
    # zone (that is what made them workstations); expected VLANs stay per class (Zoning.vlans_for).
    if section.workstation_classes is not None:
        cw = zones[CLINICAL_WORKSTATIONS]
        extra = set(section.workstation_classes) - cw.classes
        for other in list(zones.values()):
            if other.name != CLINICAL_WORKSTATIONS and other.classes & extra and other.name not in {
                    z.name for z in section.zone}:
                zones[other.name] = _replace(other, classes=other.classes - extra)
        zones[CLINICAL_WORKSTATIONS] = _replace(zones[CLINICAL_WORKSTATIONS], classes=cw.classes | extra)
    return list(zones.values())


def _replace(z: ZoneDef, **kw: object) -> ZoneDef:
    from dataclasses import replace

    return replace(z, **kw)  # type: ignore[arg-type]


def _merge(base: ZoneDef | None, z: ZoneSection) -> ZoneDef:
    nets = tuple(ipaddress.ip_network(s, strict=False) for s in z.subnets)
    if base is None:
        base = ZoneDef(name=z.name, label=z.label or z.name.replace("_", " "))
    return ZoneDef(
        name=z.name, label=z.label or base.label,
        protected=base.protected if z.protected is None else z.protected,
        workstations=base.workstations if z.workstations is None else z.workstations,
        classes=base.classes | set(z.classes), subnets=base.subnets + nets,
        hosts=base.hosts | {str(ipaddress.ip_address(h)) for h in z.hosts},
        macs=base.macs | {_norm_mac(m) for m in z.macs},
        ports=base.ports | {_split_port(p) for p in z.ports}, vlans=base.vlans | set(z.vlans),
    )


@dataclass(frozen=True)
class Placement:
    zone: str
    reason: str


@dataclass
class Zoning:
    """Decides the zone of a device or an address."""

    zones: list[ZoneDef]
    internal: list[Network]
    legacy_vlans: Mapping[str, frozenset[int]] = field(default_factory=dict)
    served: Mapping[str, str] = field(default_factory=dict)  # ip -> why flows show it is a clinical server

    def __post_init__(self) -> None:
        self.by_name = {z.name: z for z in self.zones}
        self._mac = {m: z.name for z in self.zones for m in z.macs}
        self._port = {p: z.name for z in self.zones for p in z.ports}
        self._host = {h: z.name for z in self.zones for h in z.hosts}
        self._class = {c: z.name for z in self.zones for c in z.classes}
        nets = [(n, z.name) for z in self.zones for n in z.subnets]
        self._nets = sorted(nets, key=lambda t: -t[0].prefixlen)

    @classmethod
    def from_config(cls, section: PolicySection, internal: Iterable[str],
                    served: Mapping[str, str] | None = None) -> Zoning:
        return cls(zones=build_zones(section),
                   internal=[ipaddress.ip_network(n, strict=False) for n in internal],
                   legacy_vlans={k: frozenset(v) for k, v in section.expected_vlans.items()},
                   served=dict(served or {}))

    @property
    def workstation_classes(self) -> frozenset[str]:
        return frozenset(c for z in self.zones if z.workstations for c in z.classes)

    @property
    def protected(self) -> frozenset[str]:
        return frozenset(z.name for z in self.zones if z.protected)

    def expected_vlans(self) -> dict[str, frozenset[int]]:
        """Class -> expected VLANs: a zone's VLANs for each of its classes, the older per-class key first."""
        out = {c: z.vlans for z in self.zones if z.vlans for c in z.classes}
        out.update(self.legacy_vlans)
        return out

    def place(self, *, ip: str | None = None, mac: str | None = None, device_class: str | None = None,
              medical: bool = False, switch: str | None = None, port: str | None = None) -> Placement:
        """The zone of one device (or of an address with no device record) and why."""
        if mac is not None and (z := self._mac.get(_norm_mac(mac))):
            return Placement(z, f"MAC {mac} is configured in zone {z}")
        if switch is not None and port is not None and (z := self._port.get((switch, port))):
            return Placement(z, f"port {switch}:{port} is configured in zone {z}")
        addr = None
        if ip is not None:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                addr = None
        if addr is not None:
            if z := self._host.get(str(addr)):
                return Placement(z, f"host {addr} is configured in zone {z}")
            for net, name in self._nets:
                if addr.version == net.version and addr in net:
                    return Placement(name, f"{addr} is in {net}, configured in zone {name}")
            if not medical and (why := self.served.get(str(addr))):
                return Placement(CLINICAL_SERVERS, why)
        if device_class is not None and (z := self._class.get(device_class)):
            return Placement(z, f"class {device_class}")
        if device_class is not None or mac is not None:
            if medical:
                return Placement(OTHER_MEDICAL, f"a medical device of class {device_class or 'unknown'}")
            return Placement(GENERAL_IT, f"class {device_class or 'unknown'}, not medical")
        if addr is not None and not any(addr.version == n.version and addr in n for n in self.internal):
            return Placement(EXTERNAL, f"{addr} is outside the internal networks")
        return Placement(GENERAL_IT, "an internal address with no device record")


def migration_hints(section: PolicySection, filename: str, line_of: Mapping[str, int | None]) -> list[str]:
    """How to move the older ``[policy]`` keys into zones, one finding per key (not errors)."""
    hints = []
    zones = {c: z.name for z in build_zones(PolicySection()) for c in z.classes}
    if section.workstation_classes is not None:
        where = f"{filename}:{line_of.get('workstation_classes') or ''}".rstrip(":")
        cls = ", ".join(f'"{c}"' for c in section.workstation_classes)
        hints.append(f"{where}: policy.workstation_classes still works; to move it, replace it with\n"
                     f"    [[policy.zone]]\n    name = \"{CLINICAL_WORKSTATIONS}\"\n    classes = [{cls}]")
    for device_class, vlans in sorted(section.expected_vlans.items()):
        where = f"{filename}:{line_of.get('expected_vlans') or ''}".rstrip(":")
        zone = zones.get(device_class, OTHER_MEDICAL)
        hints.append(f"{where}: policy.expected_vlans.{device_class} still works; to move it, give zone "
                     f"\"{zone}\" (where class {device_class} belongs) its VLANs:\n"
                     f"    [[policy.zone]]\n    name = \"{zone}\"\n    vlans = [{', '.join(map(str, vlans))}]")
    return hints
