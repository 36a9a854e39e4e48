"""Score types called one after the other on the same arrays share one pass, never stale."""

from __future__ import annotations

import numpy as np
import pytest

import ramp_kit.scoring.statistics_cache as statistics_cache
from ramp_kit.scoring.base import ImageScoreType
from ramp_kit.scoring.central_iou import CentralIoU
from ramp_kit.scoring.companion_iou import CompanionIoU
from ramp_kit.scoring.flux_error import FluxError
from ramp_kit.scoring.overlap_iou import OverlapIoU
from ramp_kit.scoring.statistics_cache import clear_statistics_cache, shared_image_statistics

THRESHOLD = 0.5
LEFT = [[1, 1, 0], [1, 1, 0], [1, 1, 0]]  # 6 pixels
RIGHT = [[0, 1, 1], [0, 1, 1], [0, 1, 1]]  # 6 pixels, 3 shared with LEFT
EMPTY = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]


def stack(*images: tuple[list[list[int]], list[list[int]]]) -> np.ndarray:
    """(N, 3, 3, 2) float32 from (central, companion) 3x3 pairs of 0/1."""
    return np.array([np.stack(pair, axis=-1) for pair in images], dtype=np.float32)


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The groups computed by each pass over the arrays."""
    calls: list[set[str]] = []
    original = statistics_cache.image_statistics

    def counted(
        y_true: np.ndarray, y_pred: np.ndarray, mask_threshold: float | None, needs: set[str]
    ) -> dict[str, np.ndarray]:
        calls.append(set(needs))
        return original(y_true, y_pred, mask_threshold, needs)

    monkeypatch.setattr(statistics_cache, "image_statistics", counted)
    return calls


def four_scores() -> list[ImageScoreType]:
    return [
        CentralIoU(mask_threshold=THRESHOLD),
        CompanionIoU(mask_threshold=THRESHOLD),
        OverlapIoU(mask_threshold=THRESHOLD),
        FluxError(),
    ]


def test_cache_four_scores_in_turn_make_one_pass(passes: list[set[str]]) -> None:
    y_true, y_pred = stack((LEFT, RIGHT)), stack((RIGHT, RIGHT))
    values = [score(y_true, y_pred) for score in four_scores()]
    assert passes == [{"channels", "overlap", "flux"}]
    clear_statistics_cache()
    assert values == [score(y_true.copy(), y_pred.copy()) for score in four_scores()]


def test_cache_whole_image_rewritten_in_place_is_rescored() -> None:
    # LEFT vs LEFT: 1; the prediction rewritten to RIGHT: 3/9.
    y_true, y_pred = stack((LEFT, LEFT)), stack((LEFT, LEFT))
    score = CentralIoU(mask_threshold=THRESHOLD)
    assert score(y_true, y_pred) == 1
    y_pred[0] = stack((RIGHT, LEFT))[0]
    assert score(y_true, y_pred) == pytest.approx(3 / 9)


def test_cache_rescaled_in_place_is_rescored() -> None:
    # Probabilities halved: 0.5 is background, the predicted mask is empty: IoU 0.
    y_true = stack((LEFT, LEFT))
    y_pred = y_true.copy()
    score = CentralIoU(mask_threshold=THRESHOLD)
    assert score(y_true, y_pred) == 1
    y_pred *= np.float32(0.5)
    assert score(y_true, y_pred) == 0


def test_cache_equal_looking_arrays_do_not_collide(passes: list[set[str]]) -> None:
    # Same shape and same fingerprint row, different pixels elsewhere: 1, then 3/9.
    y_true = stack((LEFT, LEFT))
    left, right = stack((LEFT, LEFT)), stack((LEFT, LEFT))
    right[0, 0, :, 0] = [0, 1, 1]
    right[0, 2, :, 0] = [0, 1, 1]
    score = CentralIoU(mask_threshold=THRESHOLD)
    assert score(y_true, left) == 1
    assert score(y_true, right) == pytest.approx(4 / 8)
    assert len(passes) == 2


def test_cache_freed_array_id_reused_is_not_served() -> None:
    # A new array may take the address and id of a freed one: the weak reference is dead.
    y_true = stack((LEFT, LEFT))
    score = CentralIoU(mask_threshold=THRESHOLD)
    assert score(y_true, stack((LEFT, LEFT))) == 1
    assert score(y_true, stack((RIGHT, LEFT))) == pytest.approx(3 / 9)


def test_cache_other_threshold_is_recomputed() -> None:
    # Truth 0.6 on LEFT: in the mask at threshold 0.5, out of it at 0.7.
    y_true = stack((LEFT, LEFT)) * np.float32(0.6)
    y_pred = stack((LEFT, LEFT))
    assert CentralIoU(mask_threshold=0.5)(y_true, y_pred) == 1
    assert CentralIoU(mask_threshold=0.7)(y_true, y_pred) == 0


def test_cache_flux_first_then_iou(passes: list[set[str]]) -> None:
    # The flux error has no threshold: the IoU after it needs a pass of its own. Both
    # perfect: flux error 0, IoU 1.
    y_true, y_pred = stack((LEFT, EMPTY)), stack((LEFT, EMPTY))
    assert FluxError()(y_true, y_pred) == 0
    assert CentralIoU(mask_threshold=THRESHOLD)(y_true, y_pred) == 1
    assert FluxError()(y_true, y_pred) == 0
    assert OverlapIoU(mask_threshold=THRESHOLD)(y_true, y_pred) == 1
    assert passes == [{"flux"}, {"channels", "overlap"}]


def test_cache_statistics_are_read_only() -> None:
    y = stack((LEFT, RIGHT))
    stats = shared_image_statistics(y, y, THRESHOLD, {"channels"})
    with pytest.raises(ValueError, match="read-only"):
        stats["intersection"][0, 0] = 0
