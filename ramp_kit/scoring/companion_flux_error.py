"""The companion's flux error, in per cent."""

from __future__ import annotations

from ramp_kit.scoring.central_flux_error import CentralFluxError
from ramp_kit.scoring.statistics import COMPANION


class CompanionFluxError(CentralFluxError):
    """Mean over blends of |predicted - true companion flux| / true flux x 100 (lower better)."""

    name = "companion_flux_error"
    channel = COMPANION
