"""Which advisories concern a device, from what the sensor knows of it.

Pure: no I/O (``load_dir`` in ``sensor.evidence.io`` reads the files). A device is
described by ``DeviceFacts``: vendor names (IEEE registry, LLDP-MED, register), model
names (LLDP-MED, register) and versions (LLDP-MED firmware and software revisions,
register). The advisories have no CPE or PURL, so matching is by name:

- vendor: both names map to one canonical key (``sensor.evidence.vendors``);
- product: the product's distinctive words and model numbers all appear in the
  device's model, or the device's all appear in the product's (a model "MX450" in
  "IntelliVue MX series", "8015" in "Alaris 8015 PC Unit"), and model numbers on
  both sides never disagree;
- version: the device's version falls in the product's range (``sensor.evidence.versions``),
  or the product is affected in all versions. A device version outside every matched
  range removes the match; one that cannot be compared leaves it at vendor+product.

A match's confidence says how far it got; its basis says from which facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import msgspec

from sensor.evidence.csaf import REMEDIATION_ORDER, Advisory, Product
from sensor.evidence.model import AdvisoryMatch, Confidence, Cve
from sensor.evidence.vendors import ALIASES, vendor_keys
from sensor.evidence.versions import contains, describe, looks_like_version, parse_spec


class Fact(msgspec.Struct, frozen=True):
    source: str  # "OUI", "LLDP-MED", "register", "LLDP-MED firmware", ...
    value: str


class DeviceFacts(msgspec.Struct, frozen=True, kw_only=True):
    vendors: tuple[Fact, ...] = ()
    models: tuple[Fact, ...] = ()
    versions: tuple[Fact, ...] = ()


_GENERIC_WORDS = """
a an and the of for with w in on to by only all including includes version versions model models series family
system systems software device devices unit units product products platform option options module modules
pump pumps infusion monitor monitors monitoring patient medical station workstation server servers application
applications wireless wifi wi fi new based edition release releases upgrade utility type kit base
"""
_GENERIC = frozenset(_GENERIC_WORDS.split())
_FAMILY_MARKERS = frozenset({"series", "family", "models", "line"})
_NUMBERISH = re.compile(r"\d")
_EXCLUDING = re.compile(r",?\s*\b(?:not including|excluding|except(?: for)?)\b.*$")
_SPECIFIC = re.compile(r"[a-z]{2,}\d{3,}[a-z]*|\d{4,}[a-z]+\d*")


def _vendor_words(keys: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for k in keys:
        out.update(k.replace(".", "").split())
        phrases, exact = ALIASES.get(k, ((), ()))
        for p in (*phrases, *exact):
            out.update(p.split())
    return frozenset(out)


@dataclass(frozen=True)
class Tokens:
    """The distinctive words of a name, the families it names, and its model ranges."""

    words: frozenset[str]
    families: frozenset[str] = frozenset()  # "mx" of "MX series"
    ranges: tuple[tuple[str, int, int], ...] = ()  # ("mx", 400, 850) of "MX400-MX850"

    def covers(self, t: str) -> bool:
        if t in self.words:
            return True
        m = re.fullmatch(r"([a-z]*)(\d+)", t)
        if m is None:
            return False
        prefix, num = m.group(1), int(m.group(2))
        return (bool(prefix) and prefix in self.families) or any(
            prefix == rp and lo <= num <= hi for rp, lo, hi in self.ranges)

    @property
    def numbers(self) -> frozenset[str]:
        return frozenset(t for t in self.words if _NUMBERISH.search(t))


def tokens(text: str, drop: frozenset[str] = frozenset()) -> Tokens:
    """Distinctive tokens of a product or model name.

    "MMT-1711" -> "mmt1711"; "IntelliVue MX series" -> "intellivue" and the family "mx";
    "MX400-MX850" and "MX (MX400-550)" -> the range mx 400..850; "MX800/700/600" -> mx800, mx700, mx600.
    """
    # "MMT-1711", "MX 450", "CT 660" are one model number; "Bed 2141" or "and 2141" are not.
    s = re.sub(r"\b([A-Za-z]{1,4})-(\d{2,})\b|\b([A-Z]{1,4})\s+(\d{2,})\b",
               lambda m: (m.group(1) or m.group(3)) + (m.group(2) or m.group(4)), text).lower()
    # "Vivid products, not including EchoPAC": what is excluded does not describe the product.
    s = _EXCLUDING.sub("", s)  # "MMT-1711", "MX 450", "CT 660" -> one token
    ranges = []
    for m in re.finditer(r"\b([a-z]{1,3})(\d+)\s*-\s*(?:\1)?(\d+)\b", s):
        lo, hi = int(m.group(2)), int(m.group(3))
        if lo < hi:
            ranges.append((m.group(1), lo, hi))
    s = re.sub(r"\b([a-z]{1,3})(\d+)((?:/\d+)+)\b",
               lambda m: " ".join(m.group(1) + n for n in [m.group(2), *m.group(3).strip("/").split("/")]), s)
    raw = [t for t in re.split(r"[^a-z0-9]+", s) if t]
    families = {raw[i - 1] for i, t in enumerate(raw) if t in _FAMILY_MARKERS and i > 0 and not raw[i - 1].isdigit()}
    words = frozenset(t for t in raw if t not in _GENERIC and t not in drop)
    return Tokens(words, frozenset(families), tuple(ranges))


def _numbers(ts: Iterable[str]) -> set[str]:
    return {t for t in ts if _NUMBERISH.search(t)}


@dataclass
class _Prod:
    product: Product
    name: Tokens
    variant: Tokens  # tokens of a product_version that names models, not releases
    spec_text: str  # "" when the version text is a variant


def product_matches(p: _Prod, model: str, drop: frozenset[str]) -> str | None:
    """Why ``model`` is this product, or None."""
    d = tokens(model, drop).words
    # "Alaris GS" is two words even though "Alaris" (a BD brand) is dropped as a vendor word.
    named = len(tokens(model).words)
    pw, vw = p.name.words, p.variant.words
    if not d or not (pw or vw):
        return None
    dn = _numbers(d)

    def in_name(t: str) -> bool:
        return p.name.covers(t)

    def in_any(t: str) -> bool:
        return p.name.covers(t) or p.variant.covers(t)

    # Model numbers on both sides that disagree: another model of the family ("Gemini TF 64" vs "TF 16").
    if dn and (p.name.numbers or p.name.ranges or p.variant.numbers) and not any(in_any(t) for t in dn):
        return None
    # The product names its models in the version field ("MMT-1711 | MMT-1712"): the device must be one.
    if p.variant.numbers and dn and not any(p.variant.covers(t) for t in dn) and not all(in_name(t) for t in dn):
        return None
    # A specific model number on both sides ("EX1150", "35700BAX", "MMT-1712") is the product
    # whatever else the names say ("Merlin@home EX1150" and "RF models EX1150").
    specific = {t for t in dn if _SPECIFIC.fullmatch(t)}
    if specific & (p.name.numbers | p.variant.numbers):
        return f'model "{model}" and product "{p.product.name}" share the model number {min(specific)}'
    forward = bool(pw) and all(t in d or (t in p.name.families and any(
        x.startswith(t) and x[len(t):].isdigit() for x in d)) for t in pw)
    reverse = all(in_any(t) for t in d) and (bool(dn) or named >= 2)
    if forward or reverse:
        via = sorted(t for t in dn if p.variant.covers(t))
        return f'model "{model}" matches product "{p.product.name}"' + (f" ({', '.join(via)})" if via else "")
    return None


@dataclass
class AdvisoryIndex:
    """Advisories by canonical vendor key, with their products prepared for matching."""

    advisories: list[Advisory]
    by_vendor: dict[str, list[tuple[Advisory, list[_Prod]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for adv in self.advisories:
            per: dict[str, list[_Prod]] = {}
            for p in adv.products:
                keys = vendor_keys(p.vendor) if p.vendor else frozenset()
                drop = _vendor_words(keys)
                variant, spec_text = Tokens(frozenset()), p.version
                if p.version and not looks_like_version(p.version):
                    variant, spec_text = tokens(p.version, drop), ""
                prod = _Prod(p, tokens(p.name, drop), variant, spec_text)
                for k in keys:
                    per.setdefault(k, []).append(prod)
            for k, prods in per.items():
                self.by_vendor.setdefault(k, []).append((adv, prods))

    def __len__(self) -> int:
        return len(self.advisories)

    def match(self, facts: DeviceFacts) -> list[AdvisoryMatch]:
        """Every advisory that concerns the device, the most certain first."""
        found: dict[str, AdvisoryMatch] = {}
        for vf in facts.vendors:
            for key in sorted(vendor_keys(vf.value)):
                for adv, prods in self.by_vendor.get(key, ()):
                    m = self._match_one(adv, prods, key, vf, facts)
                    if m is not None and (adv.id not in found or _rank(m.confidence) > _rank(found[adv.id].confidence)):
                        found[adv.id] = m
        return sorted(found.values(), key=lambda m: (-_rank(m.confidence), -(m.max_cvss or 0), m.advisory))

    def _match_one(self, adv: Advisory, prods: list[_Prod], key: str, vf: Fact,
                   facts: DeviceFacts) -> AdvisoryMatch | None:
        drop = _vendor_words({key})
        vendor_basis = f'vendor "{vf.value}" ({vf.source}) is "{prods[0].product.vendor}" in the advisory'
        affected: list[tuple[_Prod, str, str]] = []  # product, model basis, version basis
        unknown: list[tuple[_Prod, str, str]] = []
        excluded = 0
        for p in prods:
            why = next(((w, mf) for mf in facts.models
                        if (w := product_matches(p, mf.value, drop)) is not None), None)
            if why is None:
                continue
            model_basis = f"{why[0]} ({why[1].source})"
            if not p.spec_text and p.product.version:
                # The version field names models ("MMT-1711 | MMT-1712") or variants ("Rev J-M").
                if any(p.variant.covers(t) for t in tokens(why[1].value, drop).numbers):
                    affected.append((p, model_basis, "the advisory names this model and no release: all are affected"))
                else:
                    unknown.append((p, model_basis, f'the advisory\'s version "{p.product.version}" names no release '
                                                    "the sensor can compare"))
                continue
            spec = parse_spec(p.spec_text)
            if spec.kind == "all":
                affected.append((p, model_basis, "the advisory lists all versions as affected"))
                continue
            verdicts = [(contains(spec, v.value), v) for v in facts.versions]
            hit = next((v for r, v in verdicts if r is True), None)
            if hit is not None:
                affected.append((p, model_basis, f'{hit.source} "{hit.value}" is in "{describe(spec)}"'))
            elif any(r is False for r, _ in verdicts):
                excluded += 1
            else:
                why_not = ("the device reports no version" if not facts.versions
                           else f'no device version can be compared with "{describe(spec)}"')
                unknown.append((p, model_basis, why_not))
        conf: Confidence
        if affected:
            conf, chosen = "vendor+product+version", affected
        elif unknown:
            conf, chosen = "vendor+product", unknown
        elif excluded:
            return None  # the device's version is outside every range that named it
        else:
            conf, chosen = "vendor", []
        if chosen:
            ids = {p.product.product_id for p, _, _ in chosen}
            basis = (vendor_basis, *dict.fromkeys(b for _, b, _ in chosen), *dict.fromkeys(v for _, _, v in chosen))
            names = tuple(dict.fromkeys(_label(p) for p, _, _ in chosen))
        else:
            ids = {p.product.product_id for p in prods}
            basis = (vendor_basis, "no product of the advisory matches the device's model"
                     if facts.models else "the sensor knows no model for the device")
            names = ()
        return _build(adv, conf, basis, names, ids)


def _label(p: _Prod) -> str:
    v = p.product.version
    return f"{p.product.name} {describe(parse_spec(v)) if v else 'all versions'}".strip()


def _rank(c: Confidence) -> int:
    return {"vendor": 0, "vendor+product": 1, "vendor+product+version": 2}[c]


def _build(adv: Advisory, conf: Confidence, basis: Sequence[str], names: tuple[str, ...],
           ids: set[str]) -> AdvisoryMatch:
    cves: dict[str, Cve] = {}
    cats: set[str] = set()
    for v in adv.vulnerabilities:
        hit = v.affected & ids
        if not hit and v.affected:
            continue
        score = next((v.cvss[i] for i in sorted(hit) if i in v.cvss), None) or next(iter(v.cvss.values()), None)
        cid = v.cve or f"{adv.id} (no CVE)"
        prev = cves.get(cid)
        if prev is None or (score is not None and (prev.cvss or 0) < score.base_score):
            cves[cid] = Cve(id=cid, cvss=score.base_score if score else None,
                            severity=score.base_severity or None if score else None,
                            vector=score.vector_string or None if score else None)
        for r in v.remediations:
            if not r.product_ids or set(r.product_ids) & ids:
                cats.add(r.category)
    scores = [c.cvss for c in cves.values() if c.cvss is not None]
    return AdvisoryMatch(advisory=adv.id, title=adv.title, released=adv.released, url=adv.url, confidence=conf,
                         basis=tuple(basis), products=names, cves=tuple(sorted(cves.values(), key=lambda c: c.id)),
                         max_cvss=max(scores) if scores else None,
                         remediations=tuple(c for c in REMEDIATION_ORDER if c in cats))
