"""Vendor names as advisories, the IEEE registry, LLDP-MED and asset registers write them.

The same manufacturer appears as "Philips", "Phillips" (a typo in two CISA advisories),
"Philips Medical Systems" (IEEE), "Koninklijke Philips N.V."; companies were bought
(CareFusion and Alaris are BD, Hospira and Smiths Medical are ICU Medical, St. Jude
Medical is Abbott). ``vendor_keys`` maps any such name to canonical keys. A phrase
matches only on whole words at the start of the normalised name, and a few short or
ambiguous names ("GE", "BD", "Phillips") only as the whole name, so "Phillips Machine
& Welding" or "Talaris Systems" never become Philips or Alaris.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# canonical key -> (phrases matched at the start of the name, names matched only whole)
ALIASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "philips": (("philips", "koninklijke philips", "n v philips"), ("phillips", "phillips healthcare",
                                                                     "phillips medical systems")),
    "ge healthcare": (("ge healthcare", "ge medical", "general electric", "gehc", "datex ohmeda", "ge precision"),
                      ("ge",)),
    "b. braun": (("b braun", "bbraun", "braun melsungen"), ()),
    "bd": (("becton dickinson", "becton", "carefusion", "alaris medical", "cardinal health alaris"), ("bd",)),
    "baxter": (("baxter",), ()),
    "hillrom": (("hillrom", "hill rom", "welch allyn"), ()),
    "icu medical": (("icu medical", "smiths medical", "hospira"), ()),
    "medtronic": (("medtronic", "covidien"), ()),
    "siemens healthineers": (("siemens healthineers", "siemens healthcare", "siemens medical"), ("siemens",)),
    "draeger": (("drager", "draeger", "draegerwerk", "dragerwerk"), ()),
    "abbott": (("abbott", "st jude medical"), ()),
    "boston scientific": (("boston scientific",), ()),
    "fresenius": (("fresenius",), ()),
    "spacelabs": (("spacelabs",), ()),
    "zoll": (("zoll medical", "zoll lifecor"), ("zoll",)),
    "stryker": (("stryker",), ()),
    "carestream": (("carestream",), ()),
    "fujifilm": (("fujifilm", "fuji film"), ()),
    "roche": (("roche diagnostics", "hoffmann la roche"), ("roche",)),
    "natus": (("natus medical",), ("natus",)),
    "capsule": (("capsule technologies", "capsule tech", "qualcomm life"), ()),
    "vyaire": (("vyaire",), ()),
    "mindray": (("mindray", "shenzhen mindray"), ()),
    "nihon kohden": (("nihon kohden",), ()),
    "change healthcare": (("change healthcare",), ()),
    "hamilton medical": (("hamilton medical",), ()),
    "biotronik": (("biotronik",), ()),
}

# Corporate forms carry no identity: "Baxter International Inc" is "Baxter".
_FORMS = frozenset({"inc", "incorporated", "ltd", "limited", "llc", "ag", "gmbh", "co", "corp", "corporation",
                    "company", "se", "sa", "bv", "b v", "nv", "plc", "oy", "kk", "international", "the"})
_SPLIT = re.compile(r"\s*(?:,|;|/|\band\b|&|\+)\s*")


def normalise(name: str) -> str:
    """Lower case, no accents or punctuation, no corporate forms: "Dräger AG" -> "drager"."""
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"\([^)]*\)", " ", s)  # "(BD)", "(GE)": the long name says it
    words = [w for w in re.split(r"[^a-z0-9]+", s) if w]
    while words and words[-1] in _FORMS:
        words.pop()
    return " ".join(words)


def _starts(name: str, phrase: str) -> bool:
    return name == phrase or name.startswith(phrase + " ")


@functools.lru_cache(maxsize=8192)
def vendor_keys(name: str) -> frozenset[str]:
    """Canonical vendor keys of a name; several for "Silex Technology and GE Healthcare".

    A name no alias knows is its own key (normalised), so two spellings of an unknown
    vendor still meet when they normalise alike.
    """
    out: set[str] = set()
    whole = normalise(name)
    # The bracketed short name counts too: "General Electric (GE)", "Becton, Dickinson and Company (BD)".
    brackets = [normalise(b) for b in re.findall(r"\(([^)]*)\)", name)]
    parts = [whole, *brackets, *(normalise(p) for p in _SPLIT.split(name))]
    for part in parts:
        if not part:
            continue
        for key, (phrases, exact) in ALIASES.items():
            if part in exact or any(_starts(part, p) for p in phrases):
                out.add(key)
    if not out and whole:
        out.add(whole)
    return frozenset(out)
