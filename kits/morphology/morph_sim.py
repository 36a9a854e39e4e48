"""Simulate one galaxy of a given morphology as HST WFC3/IR F160W would image it, with GalSim.

Three classes, drawn from overlapping parameter ranges as real galaxies are:

- ``elliptical``: early types (E and S0), a Sersic bulge (n 2.5-5.5) holding 50-100 % of the
  light, the rest in a faint, larger exponential disk; little flattened (b/a 0.45-1), no knots.
- ``disk``: spirals, an exponential disk seen at a random inclination, a bulge holding 0-70 %
  of the light, and star-forming knots holding 0-50 % of the disk's light.
- ``irregular``: a shallow Sersic body (n 0.5-1.3) whose light is 10-60 % in knots centred off
  the body, plus up to three bright clumps.

Bulge-dominated disks look like S0 ellipticals, knotty face-on disks like irregulars, and faint
or small galaxies of any class are smoothed out by the point-spread function (PSF): the classes
overlap, so that no set of measured features separates them perfectly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import galsim
import numpy as np

PIXEL_SCALE = 0.06  # arcsec / pixel, drizzled HST WFC3/IR F160W (CANDELS)
STAMP_SIZE = 96  # pixels on a side
ZERO_POINT = 25.96  # AB magnitude of 1 e-/s in F160W
NOISE_SIGMA = 0.003  # e-/s, rms of the (sky-subtracted) white sky noise per pixel
EXPOSURE_TIME = 5000.0  # s, sets the Poisson noise of the galaxy's own electrons
# Alphabetical, the order of scikit-learn's ``classes_`` and of the kit's label names.
CLASSES = ("disk", "elliptical", "irregular")
CLASS_FRACTIONS = (0.45, 0.30, 0.25)  # disks are the most common at these magnitudes
MAG_MIN, MAG_MAX = 19.5, 24.5
COUNT_SLOPE = 0.3  # number counts dN/dm ~ 10**(COUNT_SLOPE * m): faint galaxies are common
HLR_MIN, HLR_MAX = 1.5, 16.0  # half-light radius, px
# Sersic indices come from a short ladder, since GalSim builds one (slow) table per index.
ELLIPTICAL_SERSIC = (2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5)
DISK_BULGE_SERSIC = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
IRREGULAR_SERSIC = (0.5, 0.7, 0.9, 1.1, 1.3)
# Steep Sersic profiles (n >= 2) end at this many half-light radii: their far wings, below the
# noise, would otherwise make GalSim draw them with huge FFTs.
SERSIC_TRUNCATION = 8.0
# Folded-back wings at 1e-2 of the peak stay far below the noise of these faint galaxies.
GSPARAMS = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=3e-3)


@dataclass(frozen=True)
class Component:
    """One part of a galaxy; offsets (px) are from the galaxy's centre."""

    kind: str  # "sersic", "knots" or "gaussian"
    flux: float  # e-/s
    hlr: float  # half-light radius, px
    sersic_n: float = 1.0
    axis_ratio: float = 1.0
    angle: float = 0.0  # position angle, degrees
    n_knots: int = 0
    dx: float = 0.0
    dy: float = 0.0


@dataclass(frozen=True)
class Galaxy:
    """A galaxy's label and its components; (x, y) is its centre in array coordinates."""

    morphology: str
    mag: float
    hlr: float  # half-light radius of the main body, px
    x: float
    y: float
    components: tuple[Component, ...] = field(default_factory=tuple)


def _magnitude(rng: np.random.Generator) -> float:
    """A magnitude in [MAG_MIN, MAG_MAX] from the number counts (inverse of their CDF)."""
    a = COUNT_SLOPE * math.log(10.0)
    low, high = math.exp(a * MAG_MIN), math.exp(a * MAG_MAX)
    return math.log(low + rng.uniform() * (high - low)) / a


def _radius(rng: np.random.Generator, mag: float, offset_dex: float) -> float:
    """Half-light radius (px): log-normal size-magnitude relation, shifted per class."""
    mean = math.log10(7.0) - 0.15 * (mag - 21.0) + offset_dex
    return float(np.clip(10.0 ** rng.normal(mean, 0.18), HLR_MIN, HLR_MAX))


def _elliptical(rng: np.random.Generator, flux: float, hlr: float, angle: float) -> list:
    bulge_fraction = rng.uniform(0.5, 1.0)
    parts = [
        Component(
            "sersic",
            flux * bulge_fraction,
            hlr,
            sersic_n=float(rng.choice(ELLIPTICAL_SERSIC)),
            axis_ratio=rng.uniform(0.45, 1.0),
            angle=angle,
        )
    ]
    if bulge_fraction < 0.999:  # an S0: a faint, larger exponential disk
        disk_ratio = rng.uniform(0.3, 1.0)
        parts.append(
            Component(
                "sersic",
                flux * (1 - bulge_fraction),
                hlr * rng.uniform(1.5, 2.5),
                axis_ratio=disk_ratio,
                angle=angle,
            )
        )
    return parts


def _disk(rng: np.random.Generator, flux: float, hlr: float, angle: float) -> list:
    bulge_fraction = 0.7 * rng.beta(1.3, 2.5)
    disk_flux = flux * (1 - bulge_fraction)
    knot_flux = disk_flux * rng.uniform(0.0, 0.5)
    axis_ratio = rng.uniform(0.15, 1.0)  # cos(inclination) of a thin disk seen at random
    parts = [
        Component("sersic", disk_flux - knot_flux, hlr, axis_ratio=axis_ratio, angle=angle),
        Component(
            "sersic",
            flux * bulge_fraction,
            hlr * rng.uniform(0.2, 0.5),
            sersic_n=float(rng.choice(DISK_BULGE_SERSIC)),
            axis_ratio=rng.uniform(0.6, 1.0),
            angle=angle,
        ),
    ]
    if knot_flux > 0.0:
        parts.append(
            Component(
                "knots",
                knot_flux,
                hlr,
                axis_ratio=axis_ratio,
                angle=angle,
                n_knots=int(rng.integers(15, 60)),
            )
        )
    return parts


def _irregular(rng: np.random.Generator, flux: float, hlr: float, angle: float) -> list:
    knot_fraction = rng.uniform(0.1, 0.6)
    n_clumps = int(rng.integers(0, 4))
    clump_fractions = rng.uniform(0.02, 0.1, n_clumps)
    body_flux = flux * (1.0 - knot_fraction - clump_fractions.sum())
    # The knots are centred off the body, which makes the light lopsided.
    shift = rng.uniform(0.0, 0.5) * hlr
    direction = rng.uniform(0.0, 2.0 * math.pi)
    parts = [
        Component(
            "sersic",
            body_flux,
            hlr,
            sersic_n=float(rng.choice(IRREGULAR_SERSIC)),
            axis_ratio=rng.uniform(0.35, 1.0),
            angle=angle,
        ),
        Component(
            "knots",
            flux * knot_fraction,
            hlr * rng.uniform(0.8, 1.4),
            axis_ratio=rng.uniform(0.4, 1.0),
            angle=rng.uniform(0.0, 180.0),
            n_knots=int(rng.integers(5, 30)),
            dx=shift * math.cos(direction),
            dy=shift * math.sin(direction),
        ),
    ]
    for fraction in clump_fractions:
        radius, theta = hlr * rng.uniform(0.3, 1.5), rng.uniform(0.0, 2.0 * math.pi)
        parts.append(
            Component(
                "gaussian",
                flux * fraction,
                rng.uniform(0.7, 2.0),
                dx=radius * math.cos(theta),
                dy=radius * math.sin(theta),
            )
        )
    return parts


_BUILDERS = {"elliptical": _elliptical, "disk": _disk, "irregular": _irregular}
# Size offsets (dex) of the size-magnitude relation: early types are compact.
_SIZE_OFFSET = {"elliptical": -0.15, "disk": 0.0, "irregular": 0.0}


def draw_parameters(rng: np.random.Generator) -> Galaxy:
    """A random galaxy: its class (CLASS_FRACTIONS), brightness, size, shape and position."""
    morphology = CLASSES[int(rng.choice(len(CLASSES), p=CLASS_FRACTIONS))]
    mag = _magnitude(rng)
    hlr = _radius(rng, mag, _SIZE_OFFSET[morphology])
    flux = 10.0 ** (-0.4 * (mag - ZERO_POINT))
    angle = rng.uniform(0.0, 180.0)
    centre = (STAMP_SIZE - 1) / 2
    x, y = centre + rng.uniform(-1.5, 1.5, 2)
    parts = _BUILDERS[morphology](rng, flux, hlr, angle)
    return Galaxy(morphology, mag, hlr, float(x), float(y), tuple(parts))


@lru_cache(maxsize=1)
def psf() -> galsim.GSObject:
    """F160W-like PSF: 2.4 m obscured Airy at 1.545 um blurred by jitter (FWHM 0.18 arcsec)."""
    airy = galsim.Airy(
        lam=1545.0, diam=2.4, obscuration=0.33, scale_unit=galsim.arcsec, gsparams=GSPARAMS
    )
    return galsim.Convolve(airy, galsim.Gaussian(sigma=0.055, gsparams=GSPARAMS))


def _profile(part: Component, rng: galsim.BaseDeviate) -> galsim.GSObject:
    hlr = part.hlr * PIXEL_SCALE
    if part.kind == "sersic":
        profile = galsim.Sersic(
            n=part.sersic_n,
            half_light_radius=hlr,
            flux=part.flux,
            trunc=SERSIC_TRUNCATION * hlr if part.sersic_n >= 2.0 else 0.0,
            gsparams=GSPARAMS,
        )
    elif part.kind == "knots":
        profile = galsim.RandomKnots(
            part.n_knots, half_light_radius=hlr, flux=part.flux, rng=rng, gsparams=GSPARAMS
        )
    else:
        profile = galsim.Gaussian(half_light_radius=hlr, flux=part.flux, gsparams=GSPARAMS)
    if part.axis_ratio < 1.0:
        profile = profile.shear(q=part.axis_ratio, beta=part.angle * galsim.degrees)
    return profile.shift(part.dx * PIXEL_SCALE, part.dy * PIXEL_SCALE)


def draw_galaxy(galaxy: Galaxy, rng: np.random.Generator) -> np.ndarray:
    """The observed stamp (STAMP_SIZE, STAMP_SIZE) in e-/s: PSF, pixels, sky and shot noise."""
    galsim_rng = galsim.BaseDeviate(int(rng.integers(1, 2**31)))
    parts = [_profile(part, galsim_rng) for part in galaxy.components]
    centre = (STAMP_SIZE - 1) / 2
    offset = ((galaxy.x - centre) * PIXEL_SCALE, (galaxy.y - centre) * PIXEL_SCALE)
    observed = galsim.Convolve(galsim.Sum(parts).shift(offset), psf(), gsparams=GSPARAMS)
    image = observed.drawImage(nx=STAMP_SIZE, ny=STAMP_SIZE, scale=PIXEL_SCALE).array
    image = image.astype(np.float64)
    electrons = np.clip(image, 0.0, None) * EXPOSURE_TIME
    shot = (rng.poisson(electrons) - electrons) / EXPOSURE_TIME
    return image + shot + rng.normal(0.0, NOISE_SIGMA, image.shape)
