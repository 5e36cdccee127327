"""The register and the advisories applied to the correlator's device records. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from sensor.correlate.model import DeviceRecord
from sensor.evidence.advisories import AdvisoryIndex, DeviceFacts, Fact
from sensor.evidence.model import AdvisoryMatch, RegisterFields, RegisterSummary
from sensor.evidence.register import RegisterRow, Settings, reconcile


@dataclass
class Evidence:
    """What the sensor was given to enrich its records with; either part may be absent."""

    register_rows: list[RegisterRow] | None = None
    register_file: str = ""
    register_rejected: int = 0
    register_settings: Settings | None = None
    advisories: AdvisoryIndex | None = None
    # (vendor, model, version) descriptions -> their matches, kept across ingests: a steady-state
    # poll re-matches nothing. Bounded; when full it is emptied and refilled (counted in cache_resets).
    cache: dict[DeviceFacts, tuple[tuple[AdvisoryMatch, ...], tuple[str, ...]]] = field(default_factory=dict)
    cache_limit: int = 50_000
    cache_resets: int = 0


def facts_of(rec: DeviceRecord, reg: RegisterFields | None, firmware: str = "") -> DeviceFacts:
    """What the sensor knows of a device that an advisory can name, each with its source."""
    vendors: list[Fact] = []
    models: list[Fact] = []
    versions: list[Fact] = []
    n = rec.neighbour
    if n is not None:
        if n.manufacturer:
            vendors.append(Fact("LLDP-MED manufacturer", n.manufacturer))
        if n.model:
            models.append(Fact("LLDP-MED model", n.model))
        for src, v in (("LLDP-MED firmware", n.firmware), ("LLDP-MED software", n.software)):
            if v:
                versions.append(Fact(src, v))
    if reg is not None:
        if reg.manufacturer:
            vendors.append(Fact("register", reg.manufacturer))
        if reg.model:
            models.append(Fact("register", reg.model))
    if firmware:
        versions.append(Fact("register firmware", firmware))
    if rec.vendor:
        vendors.append(Fact("OUI", rec.vendor))
    return DeviceFacts(vendors=tuple(vendors), models=tuple(models), versions=tuple(versions))


def split(matches: list[AdvisoryMatch]) -> tuple[tuple[AdvisoryMatch, ...], tuple[str, ...]]:
    """(matches naming the product, ids of advisories naming only the vendor)."""
    return (tuple(m for m in matches if m.confidence != "vendor"),
            tuple(m.advisory for m in matches if m.confidence == "vendor"))


def enrich(records: Mapping[str, DeviceRecord], ev: Evidence, now: float
           ) -> tuple[dict[str, DeviceRecord], RegisterSummary | None]:
    """Records with their register fields and advisories, and the register summary."""
    fields: dict[str, RegisterFields] = {}
    firmware: dict[str, str] = {}
    summary = None
    if ev.register_rows is not None:
        r = reconcile(ev.register_rows, records.values(), now, file=ev.register_file,
                      rejected=ev.register_rejected, settings=ev.register_settings)
        fields, summary = r.fields, r.summary
        by_tag = {row.asset_tag: row.firmware for row in ev.register_rows if row.firmware}
        firmware = {mac: by_tag[f.asset_tag] for mac, f in fields.items() if f.asset_tag in by_tag}
    out: dict[str, DeviceRecord] = {}
    cache = ev.cache
    for mac, rec in records.items():
        reg = fields.get(mac)
        changes: dict[str, object] = {}
        if reg is not None:
            changes["register"] = reg
        if ev.advisories is not None:
            facts = facts_of(rec, reg, firmware.get(mac, ""))
            if facts.vendors:
                # Thousands of devices share a few (vendor, model, version) descriptions.
                hit = cache.get(facts)
                if hit is None:
                    if len(cache) >= ev.cache_limit:
                        cache.clear()
                        ev.cache_resets += 1
                    hit = cache[facts] = split(ev.advisories.match(facts))
                changes["advisories"], changes["advisories_vendor_only"] = hit
        out[mac] = msgspec.structs.replace(rec, **changes) if changes else rec
    return out, summary
