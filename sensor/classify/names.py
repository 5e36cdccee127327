"""Organisation names compared as whole names.

Substring matching misfires on the IEEE registry: "Marquette Electric Co." is not the
GE monitor maker Marquette Medical Systems, "Talaris Systems" is not Alaris, and
IEEE spells "Becton, Dickinson  and Company" with two spaces. So names are
normalised (case, accents, punctuation, runs of spaces, "&" vs "and", trailing legal
forms such as Inc., GmbH or "and Company") and then compared whole, or by whole
leading words for a rule that says so.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_LEGAL = frozenset({
    "inc", "incorporated", "corp", "corporation", "co", "company", "cos", "ltd", "limited", "llc",
    "lp", "llp", "plc", "gmbh", "mbh", "ag", "kg", "kgaa", "se", "sa", "sas", "sarl", "spa", "srl",
    "bv", "nv", "ab", "oy", "oyj", "as", "asa", "aps", "pty", "pte", "pvt", "kk", "sl", "sro", "zrt",
    "ltda", "aa",  # Brazilian "Ltda."; "KG aA" written apart (Drägerwerk AG & Co. KG aA)
    "the", "and",
})
_NON_WORD = re.compile(r"[^\w]+")


@functools.lru_cache(maxsize=65536)
def normalize_org(name: str) -> str:
    """``"Becton, Dickinson  and Company"`` -> ``"becton dickinson"``."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold().replace("&", " and ")
    # "S.A.", "B.V.", "Co.,Ltd." -> words; keep letters and digits only.
    s = re.sub(r"\b(\w)\.(?=\w\.)", r"\1", s)
    s = re.sub(r"(?<=\b\w)\.", "", s)
    s = re.sub(r"\b(\w)/(\w)\b", r"\1\2", s)  # "A/S" -> "as"
    words = _NON_WORD.sub(" ", s).split()
    while len(words) > 1 and words[-1] in _LEGAL:
        words.pop()
    return " ".join(words)


def org_matches(name: str, *, exact: frozenset[str] = frozenset(), prefixes: tuple[str, ...] = ()) -> bool:
    """``name`` equals one of ``exact`` or begins with one of ``prefixes`` at a word boundary (all normalised)."""
    n = normalize_org(name)
    if n in exact:
        return True
    return any(n == p or n.startswith(p + " ") for p in prefixes)
