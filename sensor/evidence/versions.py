"""Version ranges as advisories write them, and whether a device's version falls inside.

CISA's CSAF files hold versions as text: ``vers:all/*``, ``<= 2.3.6``, ``>= 4.4 | <= 4.12``
(vers-style constraints joined by ``|``), ``1.1 | 1.2 | 1.4``, ``12.2.x.x``, ``2.3.6 and
below``, ``prior to 4.2``, ``< B.06.18``, dates (``distributed < april 1, 2018``) and
notes in brackets. ``parse_spec`` turns the text into a ``VersionSpec``; ``contains``
answers True, False, or None when it cannot be decided (a date, letters against
numbers, no version on the device): an unknown answer is never reported as affected.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

Op = Literal["<", "<=", ">", ">=", "=", "!="]
Segment = int | str


@dataclass(frozen=True)
class Constraint:
    op: Op
    version: str


@dataclass(frozen=True)
class VersionSpec:
    text: str
    kind: Literal["all", "constraints", "date", "unknown"]
    constraints: tuple[Constraint, ...] = ()


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_ALL = re.compile(r"^(?:\*|all|all versions|any|all releases)(?:\s|$)", re.I)
_VERSION = r"v?[0-9A-Za-z]+(?:[.\-_][0-9A-Za-z*]+)*"
_CONSTRAINT = re.compile(rf"^\s*(<=|>=|<|>|=|!=)?\s*({_VERSION})")
_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"^(?:prior to|before|earlier than|older than|lower than)\s+({_VERSION})", re.I), "<"),
    (re.compile(rf"^({_VERSION})\s+(?:and|or)\s+(?:below|earlier|prior|older|lower)", re.I), "<="),
    (re.compile(rf"^({_VERSION})\s+(?:and|or)\s+(?:above|later|newer|higher)", re.I), ">="),
    (re.compile(rf"^(?:up to|through|until)\s+({_VERSION})", re.I), "<="),
)
# "A.01 <= C.0x", "A10 < A11": an interval written between two versions.
_BETWEEN = re.compile(rf"^({_VERSION})\s*(<=|<)\s*({_VERSION})\s*$")


def _clean(text: str) -> str:
    s = " ".join(text.split())
    # Notes in brackets never hold the version: "<= 1.54 (integrated into GE MobileLink)".
    s = s.split("(")[0].strip() if not s.startswith("(") else s.strip("()")
    if s.lower().startswith("vers:"):
        scheme, _, rest = s[5:].partition("/")
        s = "*" if scheme.lower() == "all" else rest
    return s.strip()


@functools.lru_cache(maxsize=4096)
def parse_spec(text: str) -> VersionSpec:
    """Read an advisory's version or range text."""
    s = _clean(text)
    low = s.lower()
    if not s or _ALL.match(low):
        return VersionSpec(text, "all")
    if any(m in low for m in _MONTHS) or re.search(r"\b(?:19|20)\d\d-\d\d-\d\d\b", low) or "distributed" in low:
        return VersionSpec(text, "date")
    m = _BETWEEN.match(s)
    if m:
        return VersionSpec(text, "constraints", (Constraint(">=", m.group(1)), Constraint(m.group(2), m.group(3))))  # type: ignore[arg-type]
    out: list[Constraint] = []
    for part in (p.strip() for p in s.split("|")):
        if not part:
            continue
        for rx, op in _WORDS:
            w = rx.match(part)
            if w:
                out.append(Constraint(op, w.group(1)))  # type: ignore[arg-type]
                break
        else:
            c = _CONSTRAINT.match(part)
            if c is None:
                return VersionSpec(text, "unknown")
            out.append(Constraint((c.group(1) or "=") if c.group(1) else "=", c.group(2)))  # type: ignore[arg-type]
    if not out:
        return VersionSpec(text, "unknown")
    return VersionSpec(text, "constraints", tuple(out))


_SEG = re.compile(r"\d+|[a-z]+|\*")


def segments(version: str) -> tuple[Segment, ...]:
    """ "v2.3.6" -> (2, 3, 6); "B.06.18" -> ("b", 6, 18); "12.2.x.x" -> (12, 2, "*", "*")."""
    s = version.strip().lower()
    if re.match(r"^v\d", s):
        s = s[1:]
    out: list[Segment] = []
    for tok in _SEG.findall(s):
        if tok.isdigit():
            out.append(int(tok))
        elif tok in ("x", "*"):
            out.append("*")
        else:
            out.append(tok)
    return tuple(out)


def compare(a: str, b: str) -> int | None:
    """-1, 0 or 1 as a < b, a == b, a > b; ``b`` may end in wildcards (compared on its prefix).

    None when the two are not versions of one scheme: letters against numbers at the
    same place ("BT06" against "2.1"), or different letter prefixes ("U61" against "L81").
    """
    sa, sb = segments(a), segments(b)
    if not sa or not sb:
        return None
    for i in range(max(len(sa), len(sb))):
        y = sb[i] if i < len(sb) else 0
        if y == "*":
            return 0
        x = sa[i] if i < len(sa) else 0
        if isinstance(x, int) and isinstance(y, int):
            if x != y:
                return -1 if x < y else 1
        elif isinstance(x, str) and isinstance(y, str):
            if x != y:
                if i == 0 and not (len(sa) == len(sb) == 1 and len(x) == len(y) == 1):
                    return None  # "<=N", "<= K": single-letter revisions compare
                return -1 if x < y else 1
        else:
            # "2.4A" against "2.4": a trailing letter is a later build of the same number.
            if i > 0 and i >= len(sa) - 1 and i >= len(sb) - 1:
                return 1 if isinstance(x, str) else -1
            return None
    return 0


def _holds(op: Op, cmp: int) -> bool:
    return {"<": cmp < 0, "<=": cmp <= 0, ">": cmp > 0, ">=": cmp >= 0, "=": cmp == 0, "!=": cmp != 0}[op]


def contains(spec: VersionSpec, version: str | None) -> bool | None:
    """Is ``version`` inside ``spec``? None when that cannot be decided.

    Constraints follow vers: an ``=`` is one version, ``>=``/``>`` opens an interval
    that the next ``<=``/``<`` closes, a lone upper bound means everything below it.
    """
    if spec.kind == "all":
        return True
    if spec.kind != "constraints" or not version or not segments(version):
        return None
    undecided, decided = False, False
    lower: Constraint | None = None
    for c in spec.constraints:
        cmp = compare(version, c.version)
        if cmp is None:
            undecided = True
            lower = None if c.op in (">", ">=") else lower
            continue
        decided = True
        if c.op in ("=", "!="):
            if _holds(c.op, cmp):
                return True
        elif c.op in (">", ">="):
            if lower is not None and _holds(lower.op, compare(version, lower.version) or 0):
                return True  # an open interval followed by another: the first was unbounded
            lower = c
        else:
            low_ok = True
            if lower is not None:
                lc = compare(version, lower.version)
                low_ok = lc is not None and _holds(lower.op, lc)
            if low_ok and _holds(c.op, cmp):
                return True
            lower = None
    if lower is not None:
        lc = compare(version, lower.version)
        if lc is not None and _holds(lower.op, lc):
            return True
    # "<= U61 | <= L81" against "U70": decided by the U line, whatever the L line says.
    return None if undecided and not decided else False


# A product_version that is a model or variant ("MMT-1711 | MMT-1712", "882390 Gemini GXL 6 Slice",
# "2nd Edition"), not a release: such text narrows the product instead.
_LOOKS_VERSION = re.compile(
    r"^(?:v?\d{1,2}(?:\.[0-9a-z*]+)*[a-z]?|v?\d+(?:\.[0-9a-z*]+)+[a-z]?|[a-z]{1,2}\.\d+(?:\.\d+)*|"
    r"[a-z]{1,3}\d{1,3}(?:\.\d+)*|r\d+(?:\.\d+)*[a-z0-9]*)$", re.I)


def looks_like_version(text: str) -> bool:
    """True for "1.1 | 1.2", "12.x", "B.02", "BT06", ">= 4.4 | <= 4.12", "all versions"; False for model names."""
    spec = parse_spec(text)
    if spec.kind in ("all", "date"):
        return True
    if spec.kind != "constraints":
        return False
    clean = _clean(text)
    if re.search(r"\b(?:and below|and earlier|prior to|before)\b", clean, re.I) or _BETWEEN.match(clean):
        return True
    for part in (p.strip() for p in clean.split("|")):
        if re.match(r"^(?:<=|>=|<|>|!=)", part):
            continue  # only releases are compared: "<=N", "<= K"
        part = re.sub(r"\s+(?:build|sr|mr|service pack|sp)\b.*$", "", part, flags=re.I)
        if part and not _LOOKS_VERSION.match(part):
            return False
    return True


def describe(spec: VersionSpec) -> str:
    if spec.kind == "all":
        return "all versions"
    return spec.text.strip()
