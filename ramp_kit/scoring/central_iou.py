"""The central galaxy's segmentation IoU, read from the images (the 2019 lab's score)."""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.base import BlendScoreType


class CentralIoU(BlendScoreType):
    """Mean over blends of |S(pred) & S(true)| / |S(pred) | S(true)| (higher is better).

    S(images) is the central segment of a pair of images: the pixels where the central image
    is above the 1-sigma isophote (``ramp_kit.constants.MASK_THRESHOLD``) and at least as
    bright as the companion's. It is applied the same way to the truth and to the prediction,
    so the truth scores 1; two empty segments agree and score 1.
    """

    name = "central_iou"
    precision = 3
    is_lower_the_better = False
    minimum = 0.0
    maximum = 1.0

    def values_from_statistics(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        both = stats["segment_both"]
        union = stats["segment_true"] + stats["segment_pred"] - both
        return np.divide(both, union, out=np.ones(union.shape), where=union > 0)
