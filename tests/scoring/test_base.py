"""Shape checks shared by every score type, and scoring several types in one pass."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit.scoring.base import score_together
from ramp_kit.scoring.central_iou import CentralIoU
from ramp_kit.scoring.companion_iou import CompanionIoU
from ramp_kit.scoring.flux_error import FluxError
from ramp_kit.scoring.overlap_iou import OverlapIoU


def test_score_shape_mismatch_names_both_shapes() -> None:
    y_true = np.zeros((2, 3, 3, 2), dtype=np.float32)
    y_pred = np.zeros((3, 3, 3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"shape of y_true \(2, 3, 3, 2\), got \(3, 3, 3, 2\)"):
        CentralIoU(mask_threshold=0.5)(y_true, y_pred)


def test_score_single_channel_prediction_refused() -> None:
    y_true = np.zeros((2, 3, 3, 2), dtype=np.float32)
    expected = r"y_pred should have shape \(N, H, W, 2\).*got \(2, 3, 3\)"
    with pytest.raises(ValueError, match=expected):
        FluxError()(y_true, np.zeros((2, 3, 3), dtype=np.float32))


def test_score_empty_test_set_refused() -> None:
    empty = np.zeros((0, 3, 3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="no image to score"):
        OverlapIoU(mask_threshold=0.5)(empty, empty)


def test_score_ramp_workflow_attributes() -> None:
    score = CentralIoU(mask_threshold=0.5)
    assert (score.name, score.is_lower_the_better, score.minimum, score.maximum) == (
        "central_iou", False, 0.0, 1.0,
    )  # fmt: skip
    assert score.worst == 0.0


def test_score_together_matches_each_score() -> None:
    rng = np.random.default_rng(3)
    y_true = rng.random((20, 128, 128, 2), dtype=np.float32)
    y_pred = rng.random((20, 128, 128, 2), dtype=np.float32)
    scores = [
        CentralIoU(mask_threshold=0.4),
        CompanionIoU(mask_threshold=0.4),
        OverlapIoU(mask_threshold=0.4),
        FluxError(),
    ]
    together = score_together(scores, y_true, y_pred)
    assert together == {score.name: score(y_true, y_pred) for score in scores}


def test_score_together_refuses_mixed_thresholds() -> None:
    y = np.zeros((1, 3, 3, 2), dtype=np.float32)
    scores = [CentralIoU(mask_threshold=0.4), CompanionIoU(mask_threshold=0.5)]
    with pytest.raises(ValueError, match="different mask thresholds"):
        score_together(scores, y, y)
