"""The official score ranks deblenders as a deblending score must, on simulated blends.

From best to worst: the truth; the ideal hard segmentation (each pixel of the noiseless
blend given whole to the galaxy that dominates it); the nearest-centre (Voronoi) split; half
of the blend to each galaxy; no deblending at all (the whole blend as the central galaxy).
The numbers move with the simulator; the order must not.
"""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit import problem
from ramp_kit.oracles import noiseless_oracles, noisy_oracles
from ramp_kit.scoring.base import score_together
from ramp_kit.scoring.central_flux_error import CentralFluxError
from ramp_kit.simulate import SPLIT_CODES, simulate_blends

N_BLENDS = 300


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray]:
    """Noisy blends (N, 128, 128) and their noiseless truth images (N, 128, 128, 2), a few
    hundred of them."""
    blends, images, _ = simulate_blends(N_BLENDS, seed=11, split_code=SPLIT_CODES["test"], jobs=1)
    return blends, np.ascontiguousarray(images.transpose(0, 2, 3, 1))


@pytest.fixture(scope="module")
def truth(simulated: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return simulated[1]


def test_official_score_ranks_the_oracles(truth: np.ndarray) -> None:
    official = problem.score_types[0]
    assert isinstance(official, CentralFluxError)
    scores = {name: official(truth, y_pred) for name, y_pred in noiseless_oracles(truth).items()}
    values = list(scores.values())
    pairs = zip(values[:-1], values[1:], strict=True)
    assert all(better < worse for better, worse in pairs), scores
    assert scores["truth"] == 0


def test_the_true_fractions_beat_the_ideal_hard_segmentation_on_noisy_blends(
    simulated: tuple[np.ndarray, np.ndarray],
) -> None:
    """A deblender that shares each pixel by fractions can beat any hard segmentation: the
    score leaves room below the ideal cut for the networks to reach."""
    blends, truth = simulated
    official = problem.score_types[0]
    rules = noisy_oracles(truth, blends)
    scores = {name: official(truth, y_pred) for name, y_pred in rules.items()}
    hard, fractions = scores.values()  # in the order noisy_oracles gives them
    assert 0 < fractions < hard, scores


def test_every_score_is_perfect_on_simulated_truth(truth: np.ndarray) -> None:
    scores = score_together(problem.score_types, truth, truth.copy())
    for score_type in problem.score_types:
        best = score_type.minimum if score_type.is_lower_the_better else score_type.maximum
        assert scores[score_type.name] == best, score_type.name
