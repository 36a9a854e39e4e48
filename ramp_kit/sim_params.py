"""Random parameters of the two galaxies of a blend, before any pixel is drawn.

The distributions are those of the published test blends of Boucaud et al. 2020 (CANDELS F160W
galaxies), kept in ``ramp_kit.sim_tables`` (derived by ``docs/compare_with_paper.py``): the
central galaxy's magnitude; the companion's, from the same distribution within |Δmag| < 2 of
it; each galaxy's morphological class given its magnitude, and its half-light radius given its
class and magnitude. The companion is placed by the rule of the original blends.

Each class has its own light profile: spheroids are de Vaucouleurs bulges, bulge + disk
galaxies and disks mix a bulge with an inclined exponential disk that may carry star-forming
knots, and irregulars (a quarter of the galaxies, as in the paper) have no bulge, many knots and
an off-centre clump, so that no galaxy of that class is a smooth, symmetric profile.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammainc

from ramp_kit import sim_tables
from ramp_kit.constants import STAMP_SIZE, ZERO_POINT

MORPHOLOGIES = sim_tables.MORPHOLOGIES
SPHEROID, BULGE_DISK, DISK, IRREGULAR = MORPHOLOGIES
MAG_MIN, MAG_MAX = sim_tables.CENTRAL_MAGNITUDES[0], sim_tables.CENTRAL_MAGNITUDES[-1]
MAX_DELTA_MAG = 2.0
MAX_OFFSET = 64.0  # px
# Where the offset rule cannot be met (larger radius > 4 x the smaller), the original blends put
# the companion between this fraction of the largest allowed distance and that distance.
FALLBACK_FRACTION = 0.8
CENTRE = (STAMP_SIZE - 1) / 2  # geometric centre of the stamp in array coordinates
# Star-forming knots stay within this many half-light radii of the disk (an exponential disk
# holds 96 % of its light there); farther ones would need ever larger stamps.
KNOT_MAX_RADIUS = 3.0

SERSIC_B = {1: 1.678347, 4: 7.669249}  # b_n: half the flux inside the half-light radius


@dataclass(frozen=True)
class Galaxy:
    """One galaxy; positions are array coordinates (x: column, y: row), sizes in px."""

    x: float
    y: float
    flux: float  # e-/s
    # Half-light radius of bulge + disk + knots, taken circular (the intrinsic radius of the
    # paper's table); an irregular's off-centre clump widens its light by about 8 % more.
    hlr: float
    morphology: str  # one of MORPHOLOGIES
    bulge_fraction: float  # fractions of the total flux
    bulge_hlr: float
    disk_hlr: float
    disk_axis_ratio: float  # projected b/a of the (thin) disk: cos(inclination)
    bulge_axis_ratio: float
    angle: float  # position angle of the major axis, degrees counter-clockwise from +x
    knot_fraction: float  # in star-forming knots (point sources that follow the disk)
    clump_fraction: float  # in an off-centre clump (irregulars)
    clump_hlr: float
    clump_dx: float  # offset of the clump from the centre
    clump_dy: float
    knots: tuple[tuple[float, float], ...] = ()  # (dx, dy) of each knot from the centre

    @property
    def n_knots(self) -> int:
        return len(self.knots)

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
        numbers = [value for value in vars(self).values() if isinstance(value, float)]
        numbers += [MORPHOLOGIES.index(self.morphology), *np.ravel(self.knots)]
        values = np.array(numbers, dtype=np.float64)
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

    # The root lies between the bulge's share of the disk radius (>= 0.25) and 1 (no bulge).
    return hlr / brentq(excess, 0.1, 2.0, xtol=1e-8)


def _magnitude_cdf(mag: float) -> float:
    return float(np.interp(mag, sim_tables.CENTRAL_MAGNITUDES, sim_tables.MAGNITUDE_PROBABILITIES))


def _magnitude(rng: np.random.Generator, low: float = MAG_MIN, high: float = MAG_MAX) -> float:
    """One magnitude from the paper's distribution, restricted to [low, high]."""
    u = rng.uniform(_magnitude_cdf(low), _magnitude_cdf(high))
    return float(np.interp(u, sim_tables.MAGNITUDE_PROBABILITIES, sim_tables.CENTRAL_MAGNITUDES))


def _class_and_radius(rng: np.random.Generator, mag: float) -> tuple[int, float]:
    """Morphological class (index in MORPHOLOGIES) and half-light radius (px) at ``mag``."""
    edges = sim_tables.MAGNITUDE_BIN_EDGES
    magnitude_bin = min(max(int(np.searchsorted(edges, mag, side="right")) - 1, 0), len(edges) - 2)
    shares = np.cumsum(sim_tables.MORPHOLOGY_PROBABILITIES[magnitude_bin])
    morphology = min(int(np.searchsorted(shares, rng.uniform() * shares[-1])), len(shares) - 1)
    log_radii = sim_tables.LOG10_RADII[morphology][magnitude_bin]
    log_radius = np.interp(rng.uniform(), sim_tables.RADIUS_PROBABILITIES, log_radii)
    return morphology, float(10.0**log_radius)


def offset_range(r1: float, r2: float) -> tuple[float, float]:
    """Allowed centre distance (px) between galaxies of half-light radii r1, r2 (CANDELS rule).

    The companion lies between the larger radius and 4 x the smaller one (at most MAX_OFFSET);
    where the larger radius exceeds that, between FALLBACK_FRACTION of it and it, as the
    original blend generator does, which makes the close blends of the paper's test set.
    """
    high = min(4.0 * min(r1, r2), MAX_OFFSET)
    low = max(r1, r2)
    return (FALLBACK_FRACTION * high if low > high else low), high


def _knots(rng: np.random.Generator, n: int, disk_hlr: float, q: float, angle: float) -> tuple:
    """``n`` knot positions (dx, dy) that follow the inclined exponential disk."""
    scale = disk_hlr / SERSIC_B[1]  # exponential scale length
    radius = rng.gamma(2.0, scale, size=n)  # the radial distribution of an exponential disk
    while np.any(far := radius > KNOT_MAX_RADIUS * disk_hlr):
        radius[far] = rng.gamma(2.0, scale, size=int(far.sum()))
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    # The disk's area-preserving shear: major axis stretched by 1/sqrt(q), then rotated.
    major, minor = radius * np.cos(theta) / math.sqrt(q), radius * np.sin(theta) * math.sqrt(q)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return tuple(
        (float(a * cos - b * sin), float(a * sin + b * cos))
        for a, b in zip(major, minor, strict=True)
    )


def _galaxy(
    rng: np.random.Generator, x: float, y: float, mag: float, hlr: float, morphology: int
) -> Galaxy:
    """A galaxy of class ``MORPHOLOGIES[morphology]``: its profile's parameters."""
    name = MORPHOLOGIES[morphology]
    bulge_low, bulge_high, knot_probability, knot_low, knot_high, n_low, n_high = {
        SPHEROID: (0.8, 1.0, 0.0, 0.0, 0.0, 0, 0),
        BULGE_DISK: (0.2, 0.7, 0.3, 0.05, 0.2, 5, 15),
        DISK: (0.0, 0.15, 0.5, 0.05, 0.25, 5, 20),
        IRREGULAR: (0.0, 0.0, 1.0, 0.2, 0.5, 10, 30),
    }[name]
    bulge_fraction = float(rng.uniform(bulge_low, bulge_high))
    bulge_ratio = float(rng.uniform(0.25, 0.6))
    disk_hlr = disk_radius(hlr, bulge_fraction, bulge_ratio)
    disk_axis_ratio = float(rng.uniform(0.2, 1.0))
    angle = float(rng.uniform(0.0, 180.0))
    knot_fraction, knots = 0.0, ()
    if rng.uniform() < knot_probability:
        knot_fraction = float(rng.uniform(knot_low, knot_high)) * (1.0 - bulge_fraction)
        n_knots = int(rng.integers(n_low, n_high + 1))
        knots = _knots(rng, n_knots, disk_hlr, disk_axis_ratio, angle)
    clump_fraction = clump_hlr = clump_dx = clump_dy = 0.0
    if name == IRREGULAR:
        # A bright clump off the centre: the light is lopsided, not only clumpy.
        clump_fraction = float(rng.uniform(0.1, 0.3))
        clump_hlr = float(rng.uniform(0.25, 0.5)) * disk_hlr
        distance, phi = rng.uniform(0.5, 1.5) * disk_hlr, rng.uniform(0.0, 2.0 * np.pi)
        clump_dx, clump_dy = float(distance * np.cos(phi)), float(distance * np.sin(phi))
    return Galaxy(
        x=x,
        y=y,
        flux=float(10.0 ** (-0.4 * (mag - ZERO_POINT))),
        hlr=hlr,
        morphology=name,
        bulge_fraction=bulge_fraction,
        bulge_hlr=bulge_ratio * disk_hlr,
        disk_hlr=disk_hlr,
        disk_axis_ratio=disk_axis_ratio,
        bulge_axis_ratio=float(rng.uniform(0.6, 1.0)),
        angle=angle,
        knot_fraction=knot_fraction,
        clump_fraction=clump_fraction,
        clump_hlr=clump_hlr,
        clump_dx=clump_dx,
        clump_dy=clump_dy,
        knots=knots,
    )


def draw_pair(rng: np.random.Generator) -> tuple[Galaxy, Galaxy]:
    """The central galaxy (at the stamp centre, sub-pixel jitter) and its companion."""
    mag1 = _magnitude(rng)
    mag2 = _magnitude(rng, max(MAG_MIN, mag1 - MAX_DELTA_MAG), min(MAG_MAX, mag1 + MAX_DELTA_MAG))
    morphology1, r1 = _class_and_radius(rng, mag1)
    morphology2, r2 = _class_and_radius(rng, mag2)
    low, high = offset_range(r1, r2)
    x1, y1 = CENTRE + rng.uniform(-0.5, 0.5, size=2)
    # Uniform over the annulus' area, as a random pixel of it is in the original blends.
    distance = math.sqrt(rng.uniform(low * low, high * high))
    phi = rng.uniform(0.0, 2.0 * np.pi)
    x2, y2 = x1 + distance * np.cos(phi), y1 + distance * np.sin(phi)
    return (
        _galaxy(rng, float(x1), float(y1), mag1, r1, morphology1),
        _galaxy(rng, float(x2), float(y2), mag2, r2, morphology2),
    )
