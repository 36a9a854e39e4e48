"""Flux error of the central galaxy on hand-computed 3x3 cases."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit.scoring.flux_error import FluxError


def pair(central: list[list[float]], companion: list[list[float]]) -> np.ndarray:
    return np.stack([central, companion], axis=-1).astype(np.float32)


CENTRAL = [[0, 1, 0], [1, 4, 1], [0, 1, 0]]  # true flux 8
COMPANION = [[0, 0, 2], [0, 0, 0], [0, 0, 2]]  # outside the central isophote
NONE = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_flux_error_perfect_mask_is_zero() -> None:
    mask = (np.array(CENTRAL) > 0).astype(float).tolist()
    y_true = pair(CENTRAL, COMPANION)[None]
    assert FluxError()(y_true, pair(mask, NONE)[None]) == 0


def test_flux_error_counts_companion_light_under_the_mask() -> None:
    # Companion 2 on a pixel of the central mask: 8 + 2 = 10 for 8: |10/8 - 1| = 25 %.
    companion = [[0, 0, 0], [0, 0, 2], [0, 0, 0]]
    mask = (np.array(CENTRAL) > 0).astype(float).tolist()
    y_true = pair(CENTRAL, companion)[None]
    assert FluxError()(y_true, pair(mask, NONE)[None]) == pytest.approx(25.0)


def test_flux_error_companion_light_let_in() -> None:
    # Mask = whole stamp: blend flux 8 + 4 = 12 for a true flux of 8: |12/8 - 1| = 50 %.
    y_true = pair(CENTRAL, COMPANION)[None]
    y_pred = pair(np.ones((3, 3)).tolist(), NONE)[None]
    assert FluxError()(y_true, y_pred) == pytest.approx(50.0)


def test_flux_error_central_light_left_out() -> None:
    # Mask = the centre pixel only: 4 of 8: |4/8 - 1| = 50 %.
    y_true = pair(CENTRAL, COMPANION)[None]
    y_pred = pair([[0, 0, 0], [0, 1, 0], [0, 0, 0]], NONE)[None]
    assert FluxError()(y_true, y_pred) == pytest.approx(50.0)


def test_flux_error_is_median_over_images() -> None:
    # Per image: 0 %, 50 %, 100 % (empty mask: |0/8 - 1|). Median = 50 %.
    y_true = np.stack([pair(CENTRAL, COMPANION)] * 3)
    masks = [(np.array(CENTRAL) > 0).tolist(), np.ones((3, 3)).tolist(), NONE]
    y_pred = np.stack([pair(mask, NONE) for mask in masks])
    assert FluxError()(y_true, y_pred) == pytest.approx(50.0)


def test_flux_error_lower_is_better() -> None:
    score = FluxError()
    assert score.is_lower_the_better
    assert (score.minimum, score.maximum) == (0.0, float("inf"))
