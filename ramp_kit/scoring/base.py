"""The base of the score types: shape checks, per-blend values, and scoring in one pass.

Every score sees the whole test set at once: ``y_true`` holds the noiseless truth images
(N, H, W, 2) and ``y_pred`` the deblended images (N, H, W, 2), channel 0 the central galaxy
and channel 1 its companion, in e-/s. A score is an aggregate (a mean, by default) of one
value per blend: ``per_blend`` gives those values, for error bars or a breakdown by blend
property, and ``aggregate`` turns any subset of them into the score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rampwf.score_types.base import BaseScoreType

from ramp_kit.scoring.statistics import N_CHANNELS
from ramp_kit.scoring.statistics_cache import shared_image_statistics


def check_image_shapes(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    """Refuse arrays that are not two matching, non-empty (N, H, W, 2) stacks of images."""
    for label, array in (("y_true", y_true), ("y_pred", y_pred)):
        shape = np.shape(array)
        if len(shape) != 4 or shape[-1] != N_CHANNELS:
            raise ValueError(
                f"{name}: {label} should have shape (N, H, W, {N_CHANNELS}) "
                f"(central, companion), got {shape}; stack the images along axis 0 "
                "with the two galaxies on the last axis"
            )
    if np.shape(y_true) != np.shape(y_pred):
        raise ValueError(
            f"{name}: y_pred should have the shape of y_true {np.shape(y_true)}, "
            f"got {np.shape(y_pred)}; predict one (central, companion) image pair "
            "for every test blend"
        )
    if len(y_true) == 0:
        raise ValueError(f"{name}: no image to score, got 0 images; pass at least one image")


def relative_flux_error(stats: dict[str, np.ndarray]) -> np.ndarray:
    """(predicted - true) / true flux per blend and galaxy, (N, 2), signed.

    A galaxy without true flux (never in the simulated data) counts 0 when predicted empty,
    and +-1 (100 %) otherwise, so that no score is infinite.
    """
    true_flux, pred_flux = stats["true_flux"], stats["pred_flux"]
    fallback = np.sign(pred_flux)
    return np.divide(pred_flux - true_flux, true_flux, out=fallback, where=true_flux != 0)


class BlendScoreType(BaseScoreType):
    """A score of a test set from per-blend values computed from ``image_statistics``.

    Subclasses set the ramp-workflow class attributes (``name``, ``precision``,
    ``is_lower_the_better``, ``minimum``, ``maximum``) and ``values_from_statistics``; they
    override ``aggregate`` when the score is not the mean of the per-blend values.
    """

    name: str
    precision: int
    is_lower_the_better: bool
    minimum: float
    maximum: float

    def __init__(self, name: str | None = None, precision: int | None = None) -> None:
        if name is not None:
            self.name = name
        if precision is not None:
            self.precision = precision

    def check_y_pred_dimensions(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        check_image_shapes(self.name, y_true, y_pred)

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return self.aggregate(self.per_blend(y_true, y_pred))

    def per_blend(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """One value per blend, (N,) float64; the score is ``aggregate`` of them."""
        self.check_y_pred_dimensions(y_true, y_pred)
        return self.values_from_statistics(shared_image_statistics(y_true, y_pred))

    def aggregate(self, values: np.ndarray) -> float:
        """The score of the blends whose per-blend values are given: their mean."""
        return float(np.mean(values))

    def values_from_statistics(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        """Per-blend values from the per-blend sums of ``image_statistics`` (read-only)."""
        raise NotImplementedError


def score_together(
    score_types: Sequence[BlendScoreType], y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """``{name: score}`` of several score types from one pass over the images.

    Same values as calling each score type in turn, which shares the pass as well
    (``scoring.statistics_cache``); the shapes are checked once for all.
    """
    for score_type in score_types:
        score_type.check_y_pred_dimensions(y_true, y_pred)
    stats = shared_image_statistics(y_true, y_pred)
    return {
        score_type.name: score_type.aggregate(score_type.values_from_statistics(stats))
        for score_type in score_types
    }
