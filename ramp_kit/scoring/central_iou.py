"""The official score: IoU of the central galaxy's segmentation mask."""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.base import ImageScoreType
from ramp_kit.scoring.statistics import CHANNELS, intersection_over_union


class CentralIoU(ImageScoreType):
    """Mean over images of the IoU of the central galaxy's mask (higher is better).

    True mask: truth > ``mask_threshold``; predicted mask: probability > 0.5.
    """

    name = "central_iou"
    precision = 3
    is_lower_the_better = False
    minimum = 0.0
    maximum = 1.0
    needs = frozenset({CHANNELS})
    channel = 0

    def __init__(
        self, mask_threshold: float, name: str | None = None, precision: int | None = None
    ) -> None:
        super().__init__(mask_threshold=mask_threshold, name=name, precision=precision)

    def from_statistics(self, stats: dict[str, np.ndarray]) -> float:
        channel = self.channel
        iou = intersection_over_union(
            stats["intersection"][:, channel], stats["union"][:, channel]
        )
        return float(np.mean(iou))
