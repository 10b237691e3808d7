"""Shared test helpers: where the hand-written fixtures live."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    """The folder of hand-written input files (``tests/fixtures``)."""
    return FIXTURES
