"""The breakdown of the official score by separation, magnitude difference and magnitude."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit.constants import ZERO_POINT
from ramp_kit.diagnostics import bin_labels, blend_properties, diagnostics
from ramp_kit.scoring.central_iou import CentralIoU

CENTRAL_MAGNITUDE = 22.5
# (companion offset along x in pixels, companion - central magnitude, central flux error %)
BLENDS = [(3.0, 0.7, 10.0), (10.0, -0.7, 20.0), (30.0, 1.5, 30.0)]


def gaussian(x0: float, y0: float, flux: float, sigma: float = 2.0) -> np.ndarray:
    ys, xs = np.mgrid[:128, :128]
    profile = np.exp(-((xs - x0) ** 2 + (ys - y0) ** 2) / (2 * sigma**2))
    return (flux * profile / profile.sum()).astype(np.float32)


def flux_of(magnitude: float) -> float:
    return 10 ** ((ZERO_POINT - magnitude) / 2.5)


@pytest.fixture
def test_set() -> tuple[np.ndarray, np.ndarray]:
    """Three blends of BLENDS, and predictions whose central flux is off by the given %."""
    central_flux = flux_of(CENTRAL_MAGNITUDE)
    y_true = np.empty((len(BLENDS), 128, 128, 2), dtype=np.float32)
    y_pred = np.empty_like(y_true)
    for i, (offset, magnitude_difference, error) in enumerate(BLENDS):
        companion_flux = flux_of(CENTRAL_MAGNITUDE + magnitude_difference)
        y_true[i, ..., 0] = gaussian(64, 64, central_flux)
        y_true[i, ..., 1] = gaussian(64 + offset, 64, companion_flux)
        y_pred[i, ..., 0] = y_true[i, ..., 0] * np.float32(1 + error / 100)
        y_pred[i, ..., 1] = y_true[i, ..., 1]
    return y_true, y_pred


def test_blend_properties_from_truth_images(test_set: tuple[np.ndarray, np.ndarray]) -> None:
    properties = blend_properties(test_set[0])
    assert properties.separation == pytest.approx([3.0, 10.0, 30.0], abs=1e-4)
    assert properties.central_magnitude == pytest.approx([CENTRAL_MAGNITUDE] * 3, abs=1e-5)
    assert properties.magnitude_difference == pytest.approx([0.7, -0.7, 1.5], abs=1e-5)


def test_diagnostics_official_score_by_bin(test_set: tuple[np.ndarray, np.ndarray]) -> None:
    by_separation, by_difference, by_magnitude = diagnostics(*test_set)
    assert by_separation == {
        "title": "central flux error by separation (px)",
        "score": "central_flux_error",
        "bins": ["< 4", "[8, 12)", ">= 24"],
        "values": pytest.approx([10.0, 20.0, 30.0], rel=1e-5),
        "counts": [1, 1, 1],
    }
    assert by_difference["bins"] == ["[-1, -0.5)", "[0.5, 1)", ">= 1"]
    assert by_difference["values"] == pytest.approx([20.0, 10.0, 30.0], rel=1e-5)
    # One bin for the three central galaxies of magnitude 22.5: the mean, 20 %.
    assert (by_magnitude["bins"], by_magnitude["counts"]) == (["[22, 23)"], [3])
    assert by_magnitude["values"] == pytest.approx([20.0], rel=1e-5)


def test_diagnostics_blend_without_companion_light(
    test_set: tuple[np.ndarray, np.ndarray],
) -> None:
    # No companion in blend 0: no separation nor magnitude difference, still a magnitude.
    y_true, y_pred = test_set
    y_true[0, ..., 1] = 0
    y_pred[0, ..., 1] = 0
    by_separation, by_difference, by_magnitude = diagnostics(y_true, y_pred)
    assert sum(by_separation["counts"]) == sum(by_difference["counts"]) == 2
    assert by_magnitude["counts"] == [3]


def test_diagnostics_of_another_score(test_set: tuple[np.ndarray, np.ndarray]) -> None:
    breakdowns = diagnostics(*test_set, score_type=CentralIoU())
    assert breakdowns[0]["title"] == "central iou by separation (px)"
    assert breakdowns[0]["score"] == "central_iou"


def test_bin_labels_are_open_at_both_ends() -> None:
    assert bin_labels([4.0, 8.0]) == ["< 4", "[4, 8)", ">= 8"]
    assert bin_labels([-0.5, 0.0]) == ["< -0.5", "[-0.5, 0)", ">= 0"]
