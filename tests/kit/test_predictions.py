"""Image Predictions: ramp-workflow's constructors, CV slices and memory-safe combining."""

from __future__ import annotations

import numpy as np
import pytest
from rampwf.utils.combine import get_score_cv_bags

from ramp_kit.predictions import Predictions
from ramp_kit.scoring.central_flux_error import CentralFluxError

SHAPE = (128, 128, 2)


def filled(n_images: int, value: float) -> np.ndarray:
    return np.full((n_images, *SHAPE), value, dtype=np.float32)


def test_predictions_from_y_pred_keeps_fold_rows() -> None:
    y_pred = np.arange(4, dtype=np.float32)[:, None, None, None] * np.ones(SHAPE, np.float32)
    predictions = Predictions(y_pred=y_pred, fold_is=[1, 3])
    assert predictions.y_pred[:, 0, 0, 0].tolist() == [1, 3]
    assert predictions.y_pred.dtype == np.float32


def test_predictions_from_y_true_stores_truth_as_given() -> None:
    truth = filled(3, 0.25).astype(">f4")
    ground_truth = Predictions(y_true=truth)
    assert ground_truth.y_pred is truth


def test_predictions_empty_container_is_nan_and_invalid() -> None:
    predictions = Predictions(n_samples=3)
    assert predictions.y_pred.shape == (3, *SHAPE)
    assert not predictions.valid_indexes.any()


def test_predictions_set_valid_in_train_marks_rows_valid() -> None:
    container = Predictions(n_samples=4)
    container.set_valid_in_train(Predictions(y_pred=filled(2, 0.7)), [0, 2])
    assert container.valid_indexes.tolist() == [True, False, True, False]
    container.set_slice(container.valid_indexes)
    assert container.y_pred.shape == (2, *SHAPE)


def test_predictions_wrong_shape_names_expected_and_got() -> None:
    with pytest.raises(ValueError, match=r"expected \(N, 128, 128, 2\).*got \(2, 64, 64, 2\)"):
        Predictions(y_pred=np.zeros((2, 64, 64, 2), dtype=np.float32))


def test_predictions_need_an_argument() -> None:
    with pytest.raises(ValueError, match="y_pred, y_true or n_samples"):
        Predictions()


def test_predictions_combine_is_nan_aware_mean() -> None:
    # Image 0 seen by both folds (0.2, 0.6 -> 0.4), image 1 by the second only (0.8),
    # image 2 by none (NaN).
    first = Predictions(n_samples=3)
    first.set_valid_in_train(Predictions(y_pred=filled(1, 0.2)), [0])
    second = Predictions(n_samples=3)
    both = np.concatenate([filled(1, 0.6), filled(1, 0.8)])
    second.set_valid_in_train(Predictions(y_pred=both), [0, 1])
    combined = Predictions.combine([first, second])
    assert combined.y_pred[:2, 5, 5, 1] == pytest.approx([0.4, 0.8])
    assert combined.valid_indexes.tolist() == [True, True, False]


def test_predictions_combine_index_list_repeats_weight() -> None:
    # Ensembles with replacement: [0, 0, 1] of (0.0, 0.9) -> 0.3.
    parts = [Predictions(y_pred=filled(2, 0.0)), Predictions(y_pred=filled(2, 0.9))]
    combined = Predictions.combine(parts, index_list=[0, 0, 1])
    assert np.allclose(combined.y_pred, 0.3)


def test_predictions_cv_bagging_with_ramp_workflow() -> None:
    # Two folds on 4 images, each predicting its half perfectly: bagged flux error is 0.
    truth = filled(4, 0.0)
    truth[:, 60:68, 60:68, 0] = 1.0
    truth[:, 10:14, 10:14, 1] = 0.5
    folds = [[0, 1], [2, 3]]
    predictions = [Predictions(y_pred=truth, fold_is=fold) for fold in folds]
    _, scores = get_score_cv_bags(
        CentralFluxError(), predictions, Predictions(y_true=truth), folds
    )
    assert scores == [0.0, 0.0]


def test_predictions_combine_keeps_negative_pixels() -> None:
    # Deblended images may dip below zero (noise): the mean of -0.2 and 0.4 is 0.1.
    combined = Predictions.combine(
        [Predictions(y_pred=filled(1, -0.2)), Predictions(y_pred=filled(1, 0.4))]
    )
    assert np.allclose(combined.y_pred, 0.1)
