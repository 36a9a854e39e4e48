"""Flux error, bias and outlier fraction on hand-computed 3x3 cases."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit.scoring.central_flux_bias import CentralFluxBias
from ramp_kit.scoring.central_flux_error import CentralFluxError
from ramp_kit.scoring.central_outlier_fraction import CentralOutlierFraction
from ramp_kit.scoring.companion_flux_error import CompanionFluxError

CENTRAL = [[0, 1, 0], [1, 4, 1], [0, 1, 0]]  # flux 8
COMPANION = [[0, 0, 2], [0, 0, 0], [0, 0, 2]]  # flux 4
NONE = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]


def pair(central: list[list[float]], companion: list[list[float]]) -> np.ndarray:
    return np.stack([central, companion], axis=-1).astype(np.float32)


def blends(*pairs: np.ndarray) -> np.ndarray:
    return np.stack(pairs)


TRUTH = pair(CENTRAL, COMPANION)


def with_central_flux(flux: float) -> np.ndarray:
    """The true pair with the central image rescaled to ``flux``."""
    return pair((np.array(CENTRAL) * flux / 8).tolist(), COMPANION)


def test_flux_error_truth_is_zero() -> None:
    assert CentralFluxError()(blends(TRUTH), blends(TRUTH.copy())) == 0


def test_flux_error_whole_blend_as_central() -> None:
    # Central = blend: 8 + 4 = 12 for 8 -> 50 %; companion empty: 0 for 4 -> 100 %.
    blend = (np.array(CENTRAL) + np.array(COMPANION)).tolist()
    y_pred = blends(pair(blend, NONE))
    assert CentralFluxError()(blends(TRUTH), y_pred) == pytest.approx(50.0)
    assert CompanionFluxError()(blends(TRUTH), y_pred) == pytest.approx(100.0)


def test_flux_error_is_blind_to_where_the_flux_is() -> None:
    # The central flux put in one pixel: the flux is right, the image is not: 0 %.
    y_pred = blends(pair([[0, 0, 0], [0, 8, 0], [0, 0, 0]], COMPANION))
    assert CentralFluxError()(blends(TRUTH), y_pred) == 0


def test_flux_error_is_mean_over_blends() -> None:
    # Per blend 0 %, 25 % (10 for 8) and 50 % (4 for 8): mean 25 %.
    y_true = blends(TRUTH, TRUTH, TRUTH)
    y_pred = blends(TRUTH, with_central_flux(10), with_central_flux(4))
    assert CentralFluxError()(y_true, y_pred) == pytest.approx(25.0)


def test_flux_error_negative_prediction() -> None:
    # -8 for 8: |-8 - 8| / 8 = 200 %.
    y_pred = blends(with_central_flux(-8))
    assert CentralFluxError()(blends(TRUTH), y_pred) == pytest.approx(200.0)


def test_flux_error_galaxy_without_light() -> None:
    # No true companion: 0 % when predicted empty, 100 % when not.
    y_true = blends(pair(CENTRAL, NONE), pair(CENTRAL, NONE))
    y_pred = blends(pair(CENTRAL, NONE), pair(CENTRAL, COMPANION))
    assert CompanionFluxError().per_blend(y_true, y_pred).tolist() == [0.0, 100.0]


def test_flux_bias_errors_of_opposite_signs_cancel() -> None:
    # +25 % and -25 %: bias 0, flux error 25 %.
    y_true = blends(TRUTH, TRUTH)
    y_pred = blends(with_central_flux(10), with_central_flux(6))
    assert CentralFluxBias()(y_true, y_pred) == pytest.approx(0.0, abs=1e-12)
    assert CentralFluxError()(y_true, y_pred) == pytest.approx(25.0)


def test_flux_bias_is_size_of_the_mean() -> None:
    # -50 % and -25 %: mean -37.5 %, score 37.5.
    y_true = blends(TRUTH, TRUTH)
    y_pred = blends(with_central_flux(4), with_central_flux(6))
    assert CentralFluxBias()(y_true, y_pred) == pytest.approx(37.5)


def test_outlier_fraction_at_a_tenth_of_a_magnitude() -> None:
    # Flux 8: 0.1 mag is a ratio of 10**(+-0.04), [0.912, 1.096]. Predictions 8.5 (ratio
    # 1.0625, 0.066 mag) and 7.4 (0.925, 0.085 mag) are within; 8.8 (1.1, 0.103 mag) and
    # 7.2 (0.9, 0.114 mag) are outliers: 2 of 4 = 50 %.
    y_true = blends(TRUTH, TRUTH, TRUTH, TRUTH)
    y_pred = blends(*(with_central_flux(flux) for flux in (8.5, 7.4, 8.8, 7.2)))
    score = CentralOutlierFraction()
    assert score.per_blend(y_true, y_pred).tolist() == [0.0, 0.0, 100.0, 100.0]
    assert score(y_true, y_pred) == pytest.approx(50.0)


def test_outlier_fraction_no_positive_flux_is_an_outlier() -> None:
    y_true = blends(TRUTH, TRUTH)
    y_pred = blends(with_central_flux(0), with_central_flux(-3))
    assert CentralOutlierFraction()(y_true, y_pred) == 100.0


def test_flux_scores_lower_is_better() -> None:
    for score in (CentralFluxError(), CompanionFluxError(), CentralFluxBias()):
        assert score.is_lower_the_better
        assert (score.minimum, score.maximum) == (0.0, float("inf"))
    assert (CentralOutlierFraction().minimum, CentralOutlierFraction().maximum) == (0.0, 100.0)
