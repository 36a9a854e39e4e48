"""IoU of the region where the two galaxies overlap, the hardest pixels to share out."""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.base import ImageScoreType
from ramp_kit.scoring.statistics import OVERLAP, intersection_over_union


class OverlapIoU(ImageScoreType):
    """Mean over images of the IoU of the overlap region (higher is better).

    The true overlap is where both true masks hold (truth > ``mask_threshold``); the
    predicted overlap is where both predicted masks hold (probability > 0.5). A blend whose
    galaxies do not touch, predicted so, scores 1.
    """

    name = "overlap_iou"
    precision = 3
    is_lower_the_better = False
    minimum = 0.0
    maximum = 1.0
    needs = frozenset({OVERLAP})

    def __init__(
        self, mask_threshold: float, name: str | None = None, precision: int | None = None
    ) -> None:
        super().__init__(mask_threshold=mask_threshold, name=name, precision=precision)

    def from_statistics(self, stats: dict[str, np.ndarray]) -> float:
        iou = intersection_over_union(stats["overlap_intersection"], stats["overlap_union"])
        return float(np.mean(iou))
