"""Deblenders that cheat: rules that read the true images, to read the scores by.

Each returns (N, H, W, 2) float32 images, channel 0 the central galaxy. From best to worst on
the official score, as ``tests/scoring/test_metric_sanity.py`` pins: the truth; the ideal hard
segmentation (each pixel of the noiseless blend given whole to the galaxy that dominates it);
the nearest-centre (Voronoi) split; half of the blend to each galaxy; no deblending at all
(the whole blend as the central galaxy). Two more apply to the noisy blend that a submission
sees: its ideal hard segmentation, and the true fractions C / (C + K), the floor of any
deblender that multiplies the blend by fractions (its error is the noise inside the galaxies).
"""

from __future__ import annotations

import numpy as np

from ramp_kit.diagnostics import fluxes_and_centroids


def split(blend: np.ndarray, central_share: np.ndarray | np.float32) -> np.ndarray:
    """``central_share`` of ``blend`` (N, H, W) to the central galaxy, the rest to the
    companion."""
    central = blend * central_share
    return np.stack([central, blend - central], axis=-1).astype(np.float32)


def noiseless_oracles(truth: np.ndarray) -> dict[str, np.ndarray]:
    """The ladder of rules on the noiseless blend, best first."""
    central, companion = truth[..., 0], truth[..., 1]
    blend = central + companion
    _, centroids = fluxes_and_centroids(truth)  # (N, x or y, galaxy)
    ys, xs = np.mgrid[: truth.shape[1], : truth.shape[2]]

    def squared_distance(galaxy: int) -> np.ndarray:
        x, y = centroids[:, 0, galaxy, None, None], centroids[:, 1, galaxy, None, None]
        return (xs - x) ** 2 + (ys - y) ** 2

    return {
        "truth": truth.astype(np.float32, copy=True),
        "ideal hard segmentation": split(blend, central >= companion),
        "nearest-centre (Voronoi) split": split(blend, squared_distance(0) <= squared_distance(1)),
        "half of the blend to each galaxy": split(blend, np.float32(0.5)),
        "no deblending: the whole blend as the central galaxy": split(blend, np.float32(1.0)),
    }


def noisy_oracles(truth: np.ndarray, blends: np.ndarray) -> dict[str, np.ndarray]:
    """Rules applied to the noisy ``blends`` (N, H, W) a submission sees."""
    central, companion = truth[..., 0], truth[..., 1]
    total = central + companion
    fractions = np.divide(central, total, out=np.zeros_like(central), where=total > 0)
    return {
        "ideal hard segmentation of the noisy blend": split(blends, central >= companion),
        "the true fractions C / (C + K) applied to the noisy blend": split(blends, fractions),
    }
