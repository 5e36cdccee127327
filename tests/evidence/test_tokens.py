"""How product and model names are cut into the tokens matching compares."""

from __future__ import annotations

import pytest

from sensor.evidence.advisories import tokens


@pytest.mark.parametrize(("name", "words"), [
    ("InTouch ICU Bed 2141", {"intouch", "icu", "bed", "2141"}),  # not "bed2141"
    ("2131 and 2141", {"2131", "2141"}),  # not "and2141"
    ("MX 450", {"mx450"}),
    ("MMT-1711 | MMT-1712", {"mmt1711", "mmt1712"}),
    ("IntelliVue MX800/700/600", {"intellivue", "mx800", "mx700", "mx600"}),
    ("Vivid products, not including EchoPAC", {"vivid"}),
])
def test_tokens_of_product_and_model_names(name: str, words: set[str]) -> None:
    assert tokens(name).words == words
