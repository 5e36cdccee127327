"""CSAF 2.0 advisories: typed structs over the parts the sensor uses, and a flat view of them.

PyPI has CSAF packages (csaf-tool 0.3.2, csaf-lib 0.1.0b12, csaf 2026.10.25), looked at
for this: csaf-tool reads documents into untyped dicts with ``KeyError`` on any missing
key and imports lib4sbom without declaring it, csaf-lib is a beta centred on VEX with
attrs models, click and cvss dependencies, and csaf is an authoring and validation CLI
with a large dependency tree. None gives what matching needs (typed product tree leaves
and their vulnerabilities) more simply than msgspec structs over the CSAF 2.0 schema,
which also give a precise reason (``$.vulnerabilities[2].remediations[0].category``)
for a document that cannot be read. Unknown members are ignored, as CSAF allows many.
"""

from __future__ import annotations

from typing import Literal

import msgspec

RemediationCategory = Literal["mitigation", "no_fix_planned", "none_available", "vendor_fix", "workaround"]
REMEDIATION_ORDER: tuple[RemediationCategory, ...] = ("vendor_fix", "mitigation", "workaround", "none_available",
                                                      "no_fix_planned")


class _S(msgspec.Struct, frozen=True, kw_only=True):
    pass


class FullProductName(_S, frozen=True):
    name: str
    product_id: str


class Branch(_S, frozen=True):
    category: str
    name: str
    branches: list[Branch] = []
    product: FullProductName | None = None


class ProductTree(_S, frozen=True):
    branches: list[Branch] = []
    full_product_names: list[FullProductName] = []


class Reference(_S, frozen=True):
    url: str
    summary: str = ""
    category: str = "external"


class Tracking(_S, frozen=True):
    id: str
    current_release_date: str
    initial_release_date: str = ""


class Document(_S, frozen=True):
    category: str
    csaf_version: Literal["2.0"]
    title: str
    tracking: Tracking
    references: list[Reference] = []


class CvssV3(_S, frozen=True):
    base_score: float = msgspec.field(name="baseScore")
    base_severity: str = msgspec.field(name="baseSeverity", default="")
    vector_string: str = msgspec.field(name="vectorString", default="")


class Score(_S, frozen=True):
    products: list[str]
    cvss_v3: CvssV3 | None = None


class ProductStatus(_S, frozen=True):
    known_affected: list[str] = []
    first_affected: list[str] = []
    last_affected: list[str] = []
    fixed: list[str] = []
    known_not_affected: list[str] = []


class Remediation(_S, frozen=True):
    category: RemediationCategory
    details: str = ""
    product_ids: list[str] = []
    url: str | None = None


class Vulnerability(_S, frozen=True):
    cve: str | None = None
    title: str | None = None
    scores: list[Score] = []
    product_status: ProductStatus | None = None
    remediations: list[Remediation] = []


class Csaf(_S, frozen=True):
    document: Document
    product_tree: ProductTree | None = None
    vulnerabilities: list[Vulnerability] = []


# --- the flat view matching works on --------------------------------------


class Product(_S, frozen=True):
    """One product tree leaf: the vendor, the product name, and the version text under it."""

    product_id: str
    vendor: str
    name: str
    version: str  # "" when the leaf carries no version: every version is affected
    full_name: str


class Vuln(_S, frozen=True):
    cve: str | None
    affected: frozenset[str]
    cvss: dict[str, CvssV3]  # product_id -> score
    remediations: tuple[Remediation, ...]


class Advisory(_S, frozen=True):
    id: str  # "ICSMA-20-170-05"
    title: str
    released: str
    url: str | None
    products: tuple[Product, ...]
    vulnerabilities: tuple[Vuln, ...]


class UnreadableAdvisory(Exception):
    """The document is not a CSAF 2.0 advisory the sensor can use; the message says why."""


_decoder = msgspec.json.Decoder(Csaf)


def _leaves(branches: list[Branch], vendor: str, names: tuple[str, ...], out: list[Product]) -> None:
    for b in branches:
        v, n, version = vendor, names, ""
        if b.category == "vendor":
            v = b.name
        elif b.category in ("product_name", "product_family"):
            n = (*names, b.name)
        elif b.category in ("product_version", "product_version_range"):
            version = b.name
        if b.product is not None:
            out.append(Product(product_id=b.product.product_id, vendor=v, name=" ".join(n) or b.product.name,
                               version=version, full_name=b.product.name))
        _leaves(b.branches, v, n, out)


def parse_advisory(data: bytes) -> Advisory:
    """Decode one CSAF 2.0 JSON document; UnreadableAdvisory says why it cannot be used."""
    try:
        doc = _decoder.decode(data)
    except msgspec.ValidationError as e:
        raise UnreadableAdvisory(f"not a CSAF 2.0 document: {e}") from None
    except msgspec.DecodeError as e:
        raise UnreadableAdvisory(f"not valid JSON: {e}") from None
    products: list[Product] = []
    if doc.product_tree is not None:
        _leaves(doc.product_tree.branches, "", (), products)
        known = {p.product_id for p in products}
        products.extend(Product(product_id=f.product_id, vendor="", name=f.name, version="", full_name=f.name)
                        for f in doc.product_tree.full_product_names if f.product_id not in known)
    if not products:
        raise UnreadableAdvisory("no products in its product tree: nothing to match a device against")
    vulns = []
    for v in doc.vulnerabilities:
        st = v.product_status
        affected = frozenset((*st.known_affected, *st.first_affected, *st.last_affected)) if st else frozenset()
        cvss = {pid: s.cvss_v3 for s in v.scores if s.cvss_v3 is not None for pid in s.products}
        vulns.append(Vuln(cve=v.cve, affected=affected, cvss=cvss, remediations=tuple(v.remediations)))
    url = next((r.url for r in doc.document.references if r.category == "self"), None)
    return Advisory(id=doc.document.tracking.id, title=doc.document.title,
                    released=doc.document.tracking.initial_release_date or doc.document.tracking.current_release_date,
                    url=url, products=tuple(products), vulnerabilities=tuple(vulns))
