"""Score types called one after the other on the same arrays share one pass, never stale."""

from __future__ import annotations

import numpy as np
import pytest

import ramp_kit.scoring.statistics_cache as statistics_cache
from ramp_kit import problem
from ramp_kit.scoring.central_flux_error import CentralFluxError
from ramp_kit.scoring.statistics_cache import clear_statistics_cache, shared_image_statistics

CENTRAL = [[0, 1, 0], [1, 4, 1], [0, 1, 0]]  # flux 8
NONE = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]


def stack(*images: tuple[list[list[float]], list[list[float]]]) -> np.ndarray:
    return np.array([np.stack(pair, axis=-1) for pair in images], dtype=np.float32)


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of blends of each pass over the arrays."""
    calls: list[int] = []
    original = statistics_cache.image_statistics

    def counted(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(len(y_true))
        return original(y_true, y_pred)

    monkeypatch.setattr(statistics_cache, "image_statistics", counted)
    return calls


def test_cache_all_scores_in_turn_make_one_pass(passes: list[int]) -> None:
    y_true, y_pred = stack((CENTRAL, NONE)), stack((NONE, CENTRAL))
    values = [score(y_true, y_pred) for score in problem.score_types]
    assert passes == [1]
    clear_statistics_cache()
    assert values == [score(y_true.copy(), y_pred.copy()) for score in problem.score_types]


def test_cache_whole_image_rewritten_in_place_is_rescored() -> None:
    # Exact: 0 %; the central prediction doubled in place: 100 %.
    y_true = stack((CENTRAL, NONE))
    y_pred = y_true.copy()
    score = CentralFluxError()
    assert score(y_true, y_pred) == 0
    y_pred[0] = stack(((2 * np.array(CENTRAL)).tolist(), NONE))[0]
    assert score(y_true, y_pred) == pytest.approx(100.0)


def test_cache_rescaled_in_place_is_rescored() -> None:
    y_true = stack((CENTRAL, NONE))
    y_pred = y_true.copy()
    score = CentralFluxError()
    assert score(y_true, y_pred) == 0
    y_pred *= np.float32(0.5)
    assert score(y_true, y_pred) == pytest.approx(50.0)


def test_cache_equal_looking_arrays_do_not_collide(passes: list[int]) -> None:
    # Same shape and the same middle row (the fingerprint), a different top row: 0 %, then
    # the top row [0, 1, 0] made [1, 1, 1]: 8 + 2 = 10 for 8, 25 %.
    y_true = stack((CENTRAL, NONE))
    same, other = y_true.copy(), y_true.copy()
    other[0, 0, :, 0] = [1, 1, 1]
    score = CentralFluxError()
    assert score(y_true, same) == 0
    assert score(y_true, other) == pytest.approx(25.0)
    assert len(passes) == 2


def test_cache_freed_array_id_reused_is_not_served() -> None:
    # A new array may take the address and id of a freed one: the weak reference is dead.
    y_true = stack((CENTRAL, NONE))
    score = CentralFluxError()
    assert score(y_true, stack((CENTRAL, NONE))) == 0
    assert score(y_true, stack((NONE, NONE))) == pytest.approx(100.0)


def test_cache_statistics_are_read_only() -> None:
    y = stack((CENTRAL, NONE))
    stats = shared_image_statistics(y, y)
    with pytest.raises(ValueError, match="read-only"):
        stats["true_flux"][0, 0] = 0
