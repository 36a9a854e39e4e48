"""IoU of the companion galaxy's segmentation mask."""

from __future__ import annotations

from ramp_kit.scoring.central_iou import CentralIoU


class CompanionIoU(CentralIoU):
    """Mean over images of the IoU of the companion's mask (higher is better).

    True mask: truth > ``mask_threshold``; predicted mask: probability > 0.5.
    """

    name = "companion_iou"
    channel = 1
