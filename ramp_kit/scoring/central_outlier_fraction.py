"""The share of blends whose central magnitude is off by more than 0.1 mag, in per cent."""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.base import BlendScoreType, relative_flux_error
from ramp_kit.scoring.statistics import CENTRAL

OUTLIER_MAGNITUDES = 0.1
# |-2.5 log10(ratio)| <= 0.1 mag: the flux ratio predicted / true lies in [LOW, HIGH].
LOW_RATIO = 10.0 ** (-OUTLIER_MAGNITUDES / 2.5)
HIGH_RATIO = 10.0 ** (OUTLIER_MAGNITUDES / 2.5)


class CentralOutlierFraction(BlendScoreType):
    """Per cent of blends with |predicted - true central magnitude| > 0.1 (lower is better).

    0.1 mag is a flux error of about 9 % (too little light) or 10 % (too much); a
    prediction with no positive central flux has no magnitude and is an outlier.
    """

    name = "central_outlier_fraction"
    precision = 1
    is_lower_the_better = True
    minimum = 0.0
    maximum = 100.0

    def values_from_statistics(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        ratio = 1.0 + relative_flux_error(stats)[:, CENTRAL]
        within = (ratio >= LOW_RATIO) & (ratio <= HIGH_RATIO)
        return np.where(within, 0.0, 100.0)
