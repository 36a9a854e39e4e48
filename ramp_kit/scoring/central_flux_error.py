"""The official score: the central galaxy's flux error, in per cent."""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.base import BlendScoreType, relative_flux_error
from ramp_kit.scoring.statistics import CENTRAL


class CentralFluxError(BlendScoreType):
    """Mean over blends of |sum of predicted - sum of true central image| / true sum x 100.

    The mean absolute percentage error of the deblended photometry (fluxes summed over the
    stamp). A prediction that hands the central galaxy all of the blend scores the companion's
    share; the truth scores 0. Lower is better.
    """

    name = "central_flux_error"
    precision = 2
    is_lower_the_better = True
    minimum = 0.0
    maximum = float("inf")
    channel = CENTRAL

    def values_from_statistics(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return np.abs(relative_flux_error(stats)[:, self.channel]) * 100.0
