"""Random parameters of the two galaxies of a blend, before any pixel is drawn.

Distributions are chosen to resemble the CANDELS F160W galaxies of the original challenge:
magnitudes 18-23.5 with rising number counts, a log-normal size-magnitude relation (1-23 px
half-light radius), bulge + disk morphology, and the companion placed by the rule used to build
its CANDELS blends.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammainc

from ramp_kit.constants import STAMP_SIZE, ZERO_POINT

MAG_MIN, MAG_MAX = 18.0, 23.5
MAX_DELTA_MAG = 2.0
HLR_MIN, HLR_MAX = 1.0, 23.0  # half-light radius, px
MAX_OFFSET = 64.0  # px
# Number counts dN/dm ~ 10**(COUNT_SLOPE * m): faint galaxies are more common.
COUNT_SLOPE = 0.25
KNOT_PROBABILITY = 0.4
CENTRE = (STAMP_SIZE - 1) / 2  # geometric centre of the stamp in array coordinates

SERSIC_B = {1: 1.678347, 4: 7.669249}  # b_n: half the flux inside the half-light radius


@dataclass(frozen=True)
class Galaxy:
    """One galaxy; positions are array coordinates (x: column, y: row), sizes in px."""

    x: float
    y: float
    flux: float  # e-/s
    hlr: float  # half-light radius of bulge + disk (taken circular)
    bulge_fraction: float
    bulge_hlr: float
    disk_hlr: float
    disk_axis_ratio: float  # projected b/a of the (thin) disk: cos(inclination)
    bulge_axis_ratio: float
    angle: float  # position angle of the major axis, degrees counter-clockwise from +x
    n_knots: int
    knot_fraction: float  # fraction of the disk flux in star-forming knots

    @property
    def mag(self) -> float:
        return ZERO_POINT - 2.5 * float(np.log10(self.flux))

    @property
    def ellipticity(self) -> float:
        """1 - b/a of the dominant component."""
        q = self.bulge_axis_ratio if self.bulge_fraction > 0.5 else self.disk_axis_ratio
        return 1.0 - q

    @property
    def galaxy_id(self) -> str:
        """A hash of every parameter: two galaxies share it only if they are the same galaxy."""
        values = np.array(astuple(self), dtype=np.float64)
        return hashlib.blake2b(values.tobytes(), digest_size=8).hexdigest()


def _enclosed(x: np.ndarray | float, n: int) -> np.ndarray | float:
    """Fraction of a Sersic profile's flux inside x half-light radii."""
    return gammainc(2 * n, SERSIC_B[n] * np.power(x, 1.0 / n))


def disk_radius(hlr: float, bulge_fraction: float, bulge_ratio: float) -> float:
    """Disk half-light radius that gives the bulge + disk sum the half-light radius ``hlr``.

    ``bulge_ratio`` is bulge / disk half-light radius; profiles are taken circular.
    """

    def excess(x: float) -> float:  # x = R / disk radius
        inner = bulge_fraction * _enclosed(x / bulge_ratio, 4)
        return inner + (1.0 - bulge_fraction) * _enclosed(x, 1) - 0.5

    return hlr / brentq(excess, 1e-3, 1e3, xtol=1e-10)


def _magnitudes(rng: np.random.Generator, low: float, high: float) -> float:
    """One magnitude in [low, high] from the number counts (inverse of their CDF)."""
    a = COUNT_SLOPE * np.log(10.0)
    u = rng.uniform()
    return float(np.log(np.exp(a * low) + u * (np.exp(a * high) - np.exp(a * low))) / a)


def _radius(rng: np.random.Generator, mag: float) -> float:
    """Half-light radius (px) from a log-normal size-magnitude relation, truncated by redraws."""
    mean = np.log10(6.0) - 0.16 * (mag - 21.0)
    while True:
        r = 10.0 ** rng.normal(mean, 0.22)
        if HLR_MIN <= r <= HLR_MAX:
            return float(r)


def offset_range(r1: float, r2: float) -> tuple[float, float]:
    """Allowed centre distance (px) between two galaxies of half-light radii r1, r2 (CANDELS)."""
    return max(r1, r2), min(4.0 * min(r1, r2), MAX_OFFSET)


def _galaxy(rng: np.random.Generator, x: float, y: float, mag: float, hlr: float) -> Galaxy:
    bulge_fraction = float(rng.beta(1.2, 2.0))
    bulge_ratio = float(rng.uniform(0.25, 0.6))
    disk_hlr = disk_radius(hlr, bulge_fraction, bulge_ratio)
    has_knots = rng.uniform() < KNOT_PROBABILITY
    return Galaxy(
        x=x,
        y=y,
        flux=float(10.0 ** (-0.4 * (mag - ZERO_POINT))),
        hlr=hlr,
        bulge_fraction=bulge_fraction,
        bulge_hlr=bulge_ratio * disk_hlr,
        disk_hlr=disk_hlr,
        disk_axis_ratio=float(rng.uniform(0.2, 1.0)),
        bulge_axis_ratio=float(rng.uniform(0.6, 1.0)),
        angle=float(rng.uniform(0.0, 180.0)),
        n_knots=int(rng.integers(5, 16)) if has_knots else 0,
        knot_fraction=float(rng.uniform(0.05, 0.3)) if has_knots else 0.0,
    )


def draw_pair(rng: np.random.Generator) -> tuple[Galaxy, Galaxy]:
    """The central galaxy (at the stamp centre, sub-pixel jitter) and its companion."""
    mag1 = _magnitudes(rng, MAG_MIN, MAG_MAX)
    mag2 = _magnitudes(rng, max(MAG_MIN, mag1 - MAX_DELTA_MAG), min(MAG_MAX, mag1 + MAX_DELTA_MAG))
    r1 = _radius(rng, mag1)
    # The offset rule needs max(r) <= 4 min(r): redraw the companion's size until it holds.
    while True:
        r2 = _radius(rng, mag2)
        low, high = offset_range(r1, r2)
        if low <= high:
            break
    x1, y1 = CENTRE + rng.uniform(-0.5, 0.5, size=2)
    distance = rng.uniform(low, high)
    phi = rng.uniform(0.0, 2.0 * np.pi)
    x2, y2 = x1 + distance * np.cos(phi), y1 + distance * np.sin(phi)
    return (
        _galaxy(rng, float(x1), float(y1), mag1, r1),
        _galaxy(rng, float(x2), float(y2), mag2, r2),
    )
