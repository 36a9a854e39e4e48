"""The base of the image score types: shape checks, and scoring several types in one pass.

Every score sees the whole test set at once: ``y_true`` holds the noiseless truth images
(N, H, W, 2) and ``y_pred`` the predicted probabilities (N, H, W, 2), channel 0 for the
central galaxy and channel 1 for its companion.
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
            f"got {np.shape(y_pred)}; predict one (central, companion) probability "
            "pair per pixel of every test image"
        )
    if len(y_true) == 0:
        raise ValueError(f"{name}: no image to score, got 0 images; pass at least one image")


class ImageScoreType(BaseScoreType):
    """A score over a test set of images, computed from per-image statistics.

    Subclasses set the class attributes, the statistics groups they need (``needs``, see
    ``scoring.statistics``) and ``from_statistics``; ``mask_threshold`` is the pixel value
    above which a truth image belongs to its galaxy's mask (None when unused).
    """

    name: str
    precision: int
    is_lower_the_better: bool
    minimum: float
    maximum: float
    needs: frozenset[str]

    def __init__(
        self,
        mask_threshold: float | None = None,
        name: str | None = None,
        precision: int | None = None,
    ) -> None:
        self.mask_threshold = None if mask_threshold is None else float(mask_threshold)
        if name is not None:
            self.name = name
        if precision is not None:
            self.precision = precision

    def check_y_pred_dimensions(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        check_image_shapes(self.name, y_true, y_pred)

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        self.check_y_pred_dimensions(y_true, y_pred)
        return self.from_statistics(
            shared_image_statistics(y_true, y_pred, self.mask_threshold, set(self.needs))
        )

    def from_statistics(self, stats: dict[str, np.ndarray]) -> float:
        """The score of the test set from the per-image statistics of ``image_statistics``.

        The arrays of ``stats`` are read-only: they are shared with the other score types.
        """
        raise NotImplementedError


def score_together(
    score_types: Sequence[ImageScoreType], y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """``{name: score}`` of several score types from one pass over the images.

    Same values as calling each score type, for the cost of about one: the server scores
    the four official scores this way. Score types called one after the other on the same
    arrays share one pass too (``scoring.statistics_cache``).
    """
    thresholds = {st.mask_threshold for st in score_types if st.mask_threshold is not None}
    if len(thresholds) > 1:
        raise ValueError(
            f"score types use different mask thresholds {sorted(thresholds)}: "
            "score them separately or build them with the same threshold"
        )
    for score_type in score_types:
        score_type.check_y_pred_dimensions(y_true, y_pred)
    needs = set().union(*(score_type.needs for score_type in score_types))
    stats = shared_image_statistics(y_true, y_pred, next(iter(thresholds), None), needs)
    return {score_type.name: score_type.from_statistics(stats) for score_type in score_types}
