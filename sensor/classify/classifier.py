"""Device class and clinical function from vendor, LLDP and (later) flow evidence.

Every clue carries a weight and a reason; clues for a class combine as independent
evidence. Overrides from the configuration win outright. A class once given is kept
unless a new one clearly beats it (``flip_margin``), so one weak clue never flips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from collectors.facts import LldpNeighbor
from sensor.classify.names import normalize_org
from sensor.classify.oui import Vendor
from sensor.classify.rules import Rules, VendorRule
from sensor.config import ClassificationOverride
from sensor.correlate.macs import normalize_mac
from sensor.correlate.model import Classification
from sensor.errors import ConfigError


@dataclass(frozen=True)
class FlowHints:
    """What flows say about a device (the input for the flow collector, when it lands)."""

    serves: frozenset[int] = frozenset()  # ports it answers on
    uses: frozenset[int] = frozenset()  # ports it connects to
    peers: int = 0
    unexpected_peers: int = 0
    external_peers: int = 0
    policy_violations: int = 0  # conversations the approved segmentation policy does not allow (events raised)


@dataclass(frozen=True, slots=True)
class Clue:
    device_class: str | None  # None: only says "medical"
    weight: float
    reason: str
    medical: bool = False
    function: str | None = None


@dataclass(frozen=True)
class Decision:
    classification: Classification
    score: float  # the winner's combined score, remembered for the next decision
    vendor_note: str | None = None
    clues: tuple[Clue, ...] = field(default=())


def _combine(weights: Sequence[float]) -> float:
    p = 1.0
    for w in weights:
        p *= 1.0 - w
    return 1.0 - p


class Classifier:
    def __init__(self, rules: Rules, overrides: Sequence[ClassificationOverride] = ()) -> None:
        self.rules = rules
        self._by_mac: dict[str, ClassificationOverride] = {}
        self._by_oui: list[tuple[str, ClassificationOverride]] = []
        self._by_vendor: dict[str, ClassificationOverride] = {}
        problems: list[str] = []
        for i, o in enumerate(overrides):
            where = f"classification.override[{i + 1}]"
            given = [k for k in ("mac", "oui", "vendor") if getattr(o, k)]
            if len(given) != 1:
                problems.append(f"{where}: give exactly one of mac, oui or vendor (got {', '.join(given) or 'none'})")
                continue
            if not rules.known(o.device_class):
                problems.append(f'{where}.class: unknown class "{o.device_class}" '
                                f"(classes: {', '.join(sorted(rules.classes))})")
                continue
            if o.mac:
                self._by_mac[normalize_mac(o.mac) or o.mac.lower()] = o
            elif o.oui:
                prefix, _, bits = o.oui.partition("/")
                digits = prefix.replace(":", "").replace("-", "").lower()
                n = int(bits) // 4 if bits else len(digits)
                self._by_oui.append((digits[:n], o))
            elif o.vendor:
                self._by_vendor[normalize_org(o.vendor)] = o
        if problems:
            raise ConfigError(problems)
        self._by_oui.sort(key=lambda p: -len(p[0]))
        self._vendor_cache: dict[str, tuple[tuple[Clue, ...], str | None]] = {}
        self._rule_cache: dict[str, tuple[VendorRule, ...]] = {}

    # ------------------------------------------------------------------ clues
    def vendor_clues(self, vendor: Vendor | None) -> tuple[tuple[Clue, ...], str | None]:
        """Clues from the registry organisation, and a note for OEM network modules."""
        if vendor is None:
            return (), None
        cached = self._vendor_cache.get(vendor.name)
        if cached is not None:
            return cached
        n = normalize_org(vendor.name)
        clues: list[Clue] = []
        note: str | None = None
        for names, prefixes, mr in self.rules.module:
            if _match(n, names, prefixes):
                note = f"network module by {vendor.name}"
                clues.append(Clue(None, mr.weight, f"the MAC is from {vendor.name}, a maker of {mr.reason}s: "
                                  "the device's own maker is not known", medical=mr.weight > 0))
                break
        for vr in self.vendor_rules(vendor.name):
            cd = self.rules.classes[vr.device_class]
            clues.append(Clue(vr.device_class, vr.weight, f"vendor {vendor.name}: {vr.reason or cd.label}",
                              medical=cd.medical, function=vr.function))
        out = (tuple(clues), note)
        self._vendor_cache[vendor.name] = out
        return out

    def vendor_rules(self, organisation: str) -> tuple[VendorRule, ...]:
        """The vendor rules whose organisation names match ``organisation`` as a whole name."""
        hit = self._rule_cache.get(organisation)
        if hit is None:
            n = normalize_org(organisation)
            hit = tuple(vr for names, prefixes, vr in self.rules.vendor if _match(n, names, prefixes))
            if len(self._rule_cache) < 4096:
                self._rule_cache[organisation] = hit
        return hit

    def med_clues(self, n: LldpNeighbor | None, vendor: Vendor | None) -> list[Clue]:
        """Clues from the manufacturer a device names in its LLDP-MED inventory, matched as a
        whole organisation name like the registry's. A rule the MAC's registry entry already
        matched is not counted twice: the two say the same thing."""
        if n is None or not n.med_manufacturer:
            return []
        known = {id(vr) for vr in self.vendor_rules(vendor.name)} if vendor is not None else set()
        out = []
        for vr in self.vendor_rules(n.med_manufacturer):
            cd = self.rules.classes[vr.device_class]
            if id(vr) in known:
                out.append(Clue(None, 0.0, f"LLDP-MED manufacturer {_quote(n.med_manufacturer)} agrees with "
                                "the MAC's registry entry"))
                continue
            out.append(Clue(vr.device_class, vr.weight, f"LLDP-MED manufacturer {_quote(n.med_manufacturer)}: "
                            f"{vr.reason or cd.label}", medical=cd.medical, function=vr.function))
        return out

    def lldp_clues(self, n: LldpNeighbor | None) -> list[Clue]:
        if n is None:
            return []
        out = []
        for pattern, lr in self.rules.lldp:
            value = ",".join(n.capabilities) if lr.field == "capabilities" else str(getattr(n, lr.field))
            if value and pattern.search(value):
                cd = self.rules.classes[lr.device_class]
                if lr.field.startswith("med_"):
                    what = _MED_FIELDS.get(lr.field, lr.field)
                    reason = f"LLDP-MED {what} {_quote(value)}: {lr.reason}"
                else:
                    reason = f"{n.protocol.upper()}: {lr.reason}"
                out.append(Clue(lr.device_class, lr.weight, reason, medical=cd.medical))
        return out

    def flow_clues(self, flows: FlowHints | None) -> list[Clue]:
        if flows is None:
            return []
        out = []
        for pr in self.rules.port:
            ports = set(pr.ports)
            hit = {"serves": flows.serves & ports, "uses": flows.uses & ports,
                   "any": (flows.serves | flows.uses) & ports}[pr.role]
            if hit:
                medical = pr.device_class is None or self.rules.classes[pr.device_class].medical
                out.append(Clue(pr.device_class, pr.weight,
                                f"flows: {pr.reason} (port {', '.join(map(str, sorted(hit)))})", medical=medical))
        return out

    def has_override(self, mac: str) -> bool:
        """Whether a MAC or OUI override may apply (vendor overrides follow the vendor)."""
        if mac in self._by_mac:
            return True
        digits = mac.replace(":", "")
        return any(digits.startswith(p) for p, _ in self._by_oui)

    def override_for(self, mac: str, vendor: Vendor | None) -> tuple[ClassificationOverride, str] | None:
        o = self._by_mac.get(mac)
        if o is not None:
            return o, f"configured override for MAC {mac}"
        digits = mac.replace(":", "")
        for prefix, o in self._by_oui:
            if digits.startswith(prefix):
                return o, f"configured override for OUI {o.oui}"
        if vendor is not None:
            o = self._by_vendor.get(normalize_org(vendor.name))
            if o is not None:
                return o, f"configured override for vendor {o.vendor}"
        return None

    # ------------------------------------------------------------------ decide
    def classify(self, mac: str, vendor: Vendor | None, neighbour: LldpNeighbor | None = None,
                 flows: FlowHints | None = None, previous: tuple[str, float] | None = None) -> Decision:
        rules = self.rules
        vclues, note = self.vendor_clues(vendor)
        ov = self.override_for(mac, vendor)
        if ov is not None:
            o, why = ov
            cd = rules.classes[o.device_class]
            why_all = (why, o.note) if o.note else (why,)
            c = Classification(device_class=o.device_class, label=cd.label, clinical_function=o.function or cd.function,
                               medical=cd.medical, confidence=1.0, reasons=why_all)
            return Decision(c, 1.0, note)
        clues = [*vclues, *self.med_clues(neighbour, vendor), *self.lldp_clues(neighbour), *self.flow_clues(flows)]
        by_class: dict[str, list[float]] = {}
        for cl in clues:
            if cl.device_class is not None:
                by_class.setdefault(cl.device_class, []).append(cl.weight)
        scores = {k: _combine(v) for k, v in by_class.items()}
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        winner, top = ranked[0] if ranked else ("unknown", 0.0)
        runner = ranked[1][1] if len(ranked) > 1 else 0.0
        if top < rules.min_score:
            winner = "unknown"
        reasons = [cl.reason for cl in sorted(clues, key=lambda c: -c.weight)]
        if previous is not None:
            prev, prev_score = previous
            if prev != winner and prev != "unknown" and rules.known(prev):
                now_prev = scores.get(prev, 0.0)
                if not (top >= now_prev + rules.flip_margin and top >= rules.flip_min) or winner == "unknown":
                    reasons.append(f"kept the class {prev}: the new evidence"
                                   f"{f' for {winner} ({top:.2f})' if winner != 'unknown' else ''} is too weak "
                                   f"to change it")
                    winner, top = prev, max(now_prev, prev_score)
                    runner = min(runner, top)
        cd = rules.classes.get(winner, rules.classes["unknown"])
        if winner == "unknown":
            med = _combine([c.weight for c in clues if c.medical])
            medical = med >= rules.medical_min
            confidence = 0.0
            if medical:
                reasons.append("medical clues, but not enough evidence for a device class")
            if not clues:
                reasons.append("no rule matched")
            function = "medical device (type unknown)" if medical else None
        else:
            medical = cd.medical
            confidence = round(max(0.05, top * (1.0 - runner / 2)), 2)
            function = next((c.function for c in clues if c.device_class == winner and c.function), cd.function)
        c = Classification(device_class=winner, label=cd.label, clinical_function=function, medical=medical,
                           confidence=min(confidence, 0.99), reasons=tuple(reasons))
        return Decision(c, top, note, tuple(clues))


_MED_FIELDS = {"med_manufacturer": "manufacturer", "med_model": "model", "med_hardware": "hardware revision",
               "med_firmware": "firmware revision", "med_software": "software revision"}


def _quote(value: str, limit: int = 64) -> str:
    """A device-supplied string for a reason: quoted and bounded."""
    return '"' + (value if len(value) <= limit else value[:limit - 1] + "…") + '"'


def _match(n: str, names: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    return n in names or any(n == p or n.startswith(p + " ") for p in prefixes)
