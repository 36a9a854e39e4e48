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
from ramp_kit.diagnostics import fluxes_and_centroids
from ramp_kit.scoring.base import score_together
from ramp_kit.scoring.central_flux_error import CentralFluxError
from ramp_kit.simulate import SPLIT_CODES, simulate_blends

N_BLENDS = 300


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    """Noiseless truth images (N, 128, 128, 2) of a few hundred simulated blends."""
    _, images, _ = simulate_blends(N_BLENDS, seed=11, split_code=SPLIT_CODES["test"], jobs=1)
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1))


def split(blend: np.ndarray, central_share: np.ndarray) -> np.ndarray:
    """(N, H, W, 2) images: ``central_share`` of the blend to the central galaxy, the rest
    to the companion."""
    central = blend * central_share
    return np.stack([central, blend - central], axis=-1).astype(np.float32)


def oracles(truth: np.ndarray) -> dict[str, np.ndarray]:
    central, companion = truth[..., 0], truth[..., 1]
    blend = central + companion
    _, centroids = fluxes_and_centroids(truth)  # (N, x or y, galaxy)
    ys, xs = np.mgrid[: truth.shape[1], : truth.shape[2]]

    def squared_distance(galaxy: int) -> np.ndarray:
        x, y = centroids[:, 0, galaxy, None, None], centroids[:, 1, galaxy, None, None]
        return (xs - x) ** 2 + (ys - y) ** 2

    return {
        "truth": truth.copy(),
        "ideal hard segmentation": split(blend, central >= companion),
        "nearest-centre split": split(blend, squared_distance(0) <= squared_distance(1)),
        "half of the blend": split(blend, np.float32(0.5)),
        "whole blend as central": split(blend, np.float32(1.0)),
    }


def test_official_score_ranks_the_oracles(truth: np.ndarray) -> None:
    official = problem.score_types[0]
    assert isinstance(official, CentralFluxError)
    scores = {name: official(truth, y_pred) for name, y_pred in oracles(truth).items()}
    values = list(scores.values())
    pairs = zip(values[:-1], values[1:], strict=True)
    assert all(better < worse for better, worse in pairs), scores
    assert scores["truth"] == 0


def test_every_score_is_perfect_on_simulated_truth(truth: np.ndarray) -> None:
    scores = score_together(problem.score_types, truth, truth.copy())
    for score_type in problem.score_types:
        best = score_type.minimum if score_type.is_lower_the_better else score_type.maximum
        assert scores[score_type.name] == best, score_type.name
