"""Every scoring test starts without statistics cached by an earlier test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ramp_kit.scoring.statistics_cache import clear_statistics_cache


@pytest.fixture(autouse=True)
def empty_statistics_cache() -> Iterator[None]:
    clear_statistics_cache()
    yield
    clear_statistics_cache()
