"""Isophotal flux error of the central galaxy, in per cent."""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.base import ImageScoreType
from ramp_kit.scoring.statistics import FLUX


class FluxError(ImageScoreType):
    """Median over images of |flux inside the predicted central mask / true flux - 1| x 100.

    The flux inside the mask (probability > 0.5) is summed on the noiseless blend (central +
    companion truth images) and the true flux is the whole noiseless central image: the
    score measures the deblending error alone (companion light let in, central light left
    out), free of photometric noise. An image without central flux scores 0 when nothing is
    measured in its mask and an infinite error otherwise. Lower is better.
    """

    name = "flux_error"
    precision = 2
    is_lower_the_better = True
    minimum = 0.0
    maximum = float("inf")
    needs = frozenset({FLUX})

    def from_statistics(self, stats: dict[str, np.ndarray]) -> float:
        measured, true_flux = stats["flux_inside"], stats["true_flux"]
        no_flux_ratio = np.where(measured == 0, 1.0, np.inf)
        ratio = np.divide(measured, true_flux, out=no_flux_ratio, where=true_flux > 0)
        # The median: a few catastrophic blends should not decide the ranking.
        return float(np.median(np.abs(ratio - 1.0) * 100.0))
