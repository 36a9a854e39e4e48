"""The photometric bias of the central galaxy: does a deblender add or lose light on average?"""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.base import BlendScoreType, relative_flux_error
from ramp_kit.scoring.statistics import CENTRAL


class CentralFluxBias(BlendScoreType):
    """|mean over blends of (predicted - true central flux) / true flux| x 100 (lower is better).

    The per-blend values are signed (``per_blend``: positive where companion light was let
    in, negative where central light was lost); the score is the size of their mean, so that
    a bias of -5 % and one of +5 % rank alike. Errors of opposite signs cancel here, unlike
    in the flux error: a deblender can be unbiased and still imprecise.
    """

    name = "central_flux_bias"
    precision = 2
    is_lower_the_better = True
    minimum = 0.0
    maximum = float("inf")

    def values_from_statistics(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return relative_flux_error(stats)[:, CENTRAL] * 100.0

    def aggregate(self, values: np.ndarray) -> float:
        return float(abs(np.mean(values)))
