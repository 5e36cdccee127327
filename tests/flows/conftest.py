from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED

CORPUS = SHARED / "corpus" / "flows"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"flow corpus not found at {CORPUS} (expected ../shared/corpus/flows next to the repo)")
    return CORPUS
