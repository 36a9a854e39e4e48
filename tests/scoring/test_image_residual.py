"""Normalised image residual of both galaxies on hand-computed 3x3 cases."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit.scoring.image_residual import ImageResidual

CENTRAL = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.float32)  # sum of squares 20
COMPANION = np.array([[0, 0, 2], [0, 0, 0], [0, 0, 2]], dtype=np.float32)  # 8


def stack(*pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return np.array([np.stack(pair, axis=-1) for pair in pairs], dtype=np.float32)


def test_image_residual_truth_is_zero() -> None:
    y = stack((CENTRAL, COMPANION))
    assert ImageResidual()(y, y.copy()) == 0


def test_image_residual_empty_prediction_is_100() -> None:
    y_true = stack((CENTRAL, COMPANION))
    assert ImageResidual()(y_true, np.zeros_like(y_true)) == pytest.approx(100.0)


def test_image_residual_half_central() -> None:
    # Central at half: sum (0.5 C)^2 / sum C^2 = 0.25; companion exact: 0. Mean 12.5 %.
    y_true = stack((CENTRAL, COMPANION))
    y_pred = stack((0.5 * CENTRAL, COMPANION))
    assert ImageResidual()(y_true, y_pred) == pytest.approx(12.5)


def test_image_residual_sees_misplaced_flux() -> None:
    # Central flux (8) right but all in the centre pixel: residual (4 ones and 4 -> 8)
    # = 4 x 1 + 16 = 20 over 20: 100 % for the central galaxy, 0 for the companion: 50 %.
    moved = np.zeros((3, 3), dtype=np.float32)
    moved[1, 1] = 8
    y_true = stack((CENTRAL, COMPANION))
    assert ImageResidual()(y_true, stack((moved, COMPANION))) == pytest.approx(50.0)


def test_image_residual_galaxy_without_light() -> None:
    # No true companion: 0 when predicted empty; 100 when predicted with light.
    empty = np.zeros((3, 3), dtype=np.float32)
    y_true = stack((CENTRAL, empty), (CENTRAL, empty))
    y_pred = stack((CENTRAL, empty), (CENTRAL, COMPANION))
    assert ImageResidual().per_blend(y_true, y_pred).tolist() == [0.0, 50.0]
