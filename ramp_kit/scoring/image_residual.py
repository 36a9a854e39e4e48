"""How far the deblended images are from the true ones, pixel by pixel, in per cent."""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.base import BlendScoreType


class ImageResidual(BlendScoreType):
    """Mean over blends and both galaxies of sum (predicted - true)^2 / sum true^2, x 100.

    0 for the true images, 100 for an empty prediction; shapes, not only fluxes, count. Each
    galaxy is normalised by its own image, so the companion weighs as much as the central
    galaxy. A galaxy without true light counts 0 when predicted empty, 100 otherwise. Lower
    is better.
    """

    name = "image_residual"
    precision = 2
    is_lower_the_better = True
    minimum = 0.0
    maximum = float("inf")

    def values_from_statistics(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        squared_error, true_power = stats["squared_error"], stats["true_power"]
        fallback = np.where(squared_error > 0, 1.0, 0.0)
        ratio = np.divide(squared_error, true_power, out=fallback, where=true_power > 0)
        return ratio.mean(axis=1) * 100.0
