"""Shape checks shared by every score type, per-blend values, and scoring in one pass."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit import problem
from ramp_kit.scoring.base import score_together
from ramp_kit.scoring.central_flux_bias import CentralFluxBias
from ramp_kit.scoring.central_flux_error import CentralFluxError
from ramp_kit.scoring.central_iou import CentralIoU


def test_score_shape_mismatch_names_both_shapes() -> None:
    y_true = np.zeros((2, 3, 3, 2), dtype=np.float32)
    y_pred = np.zeros((3, 3, 3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"shape of y_true \(2, 3, 3, 2\), got \(3, 3, 3, 2\)"):
        CentralFluxError()(y_true, y_pred)


def test_score_single_channel_prediction_refused() -> None:
    y_true = np.zeros((2, 3, 3, 2), dtype=np.float32)
    expected = r"y_pred should have shape \(N, H, W, 2\).*got \(2, 3, 3\)"
    with pytest.raises(ValueError, match=expected):
        CentralIoU()(y_true, np.zeros((2, 3, 3), dtype=np.float32))


def test_score_empty_test_set_refused() -> None:
    empty = np.zeros((0, 3, 3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="no image to score"):
        CentralFluxError()(empty, empty)


def test_score_ramp_workflow_attributes() -> None:
    official = CentralFluxError()
    assert (official.name, official.is_lower_the_better, official.minimum) == (
        "central_flux_error", True, 0.0,
    )  # fmt: skip
    assert official.worst == float("inf")
    assert CentralIoU().worst == 0.0


def test_score_name_and_precision_can_be_overridden() -> None:
    score = CentralFluxError(name="flux", precision=4)
    assert (score.name, score.precision) == ("flux", 4)


def test_score_per_blend_values_aggregate_to_the_score() -> None:
    # Bias: per blend +25 % and -50 %, score |(25 - 50) / 2| = 12.5.
    y_true = np.zeros((2, 3, 3, 2), dtype=np.float32)
    y_true[:, 1, 1] = [8.0, 4.0]
    y_pred = y_true.copy()
    y_pred[0, 1, 1, 0], y_pred[1, 1, 1, 0] = 10.0, 4.0
    bias = CentralFluxBias()
    values = bias.per_blend(y_true, y_pred)
    assert values.tolist() == pytest.approx([25.0, -50.0])
    assert bias(y_true, y_pred) == bias.aggregate(values) == pytest.approx(12.5)


def test_score_together_matches_each_score() -> None:
    rng = np.random.default_rng(3)
    y_true = rng.random((20, 128, 128, 2), dtype=np.float32)
    y_pred = rng.random((20, 128, 128, 2), dtype=np.float32)
    together = score_together(problem.score_types, y_true, y_pred)
    assert together == {score.name: score(y_true, y_pred) for score in problem.score_types}


def test_every_score_is_perfect_on_the_truth() -> None:
    rng = np.random.default_rng(4)
    y_true = rng.random((6, 128, 128, 2), dtype=np.float32)
    perfect = {score.name: score.maximum if not score.is_lower_the_better else 0.0
               for score in problem.score_types}  # fmt: skip
    assert score_together(problem.score_types, y_true, y_true.copy()) == perfect
