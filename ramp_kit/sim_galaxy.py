"""Draw one galaxy, convolved with an HST WFC3/IR F160W-like PSF, into a stamp with GalSim.

Speed matters (the student release has 10,000 blends): each galaxy is drawn by FFT on its own
stamp, just large enough to hold every pixel brighter than a small fraction of the sky noise,
and then added into the 128 x 128 blend. GalSim sizes its FFT from the profile's folding
threshold, so the threshold is loosened for faint galaxies, whose folded-back wings are far
below the noise, and kept tight for bright ones.
"""

from __future__ import annotations

import math
from functools import lru_cache

import galsim
import numpy as np
from scipy.special import gamma

from ramp_kit.constants import NOISE_SIGMA, PIXEL_SCALE, STAMP_SIZE
from ramp_kit.sim_params import SERSIC_B, Galaxy

# Pixels of the noiseless image below this level are left out of the galaxy's stamp.
EXTENT_LEVEL = 0.02 * NOISE_SIGMA
PSF_MARGIN = 4  # px added around the galaxy's extent for the PSF wings
# Around a knot, a point source: its PSF's Airy rings stay above EXTENT_LEVEL farther out.
KNOT_MARGIN = 8
# Largest half-size of a galaxy's stamp (px), so that its FFT stays within 192-256 pixels. Only
# the brightest bulges (mag < 19) reach it; 95 px out they are below ~0.2 sigma of the noise.
MAX_HALF_SIZE = 95
# (maximum flux in e-/s, folding threshold). Against folding_threshold=1e-3 (50 times slower),
# bright galaxies drawn this way differ by at most 0.07 sigma of the sky noise in any pixel.
_FOLDING = ((400.0, 2e-2), (math.inf, 1e-2))
# Bulge truncation radii in units of the de Vaucouleurs scale radius r0 (hlr / 3459): a ladder
# with steps of at most 25 %, so that GalSim builds (and caches) few Sersic tables. GalSim keys
# its cache on trunc / r0, so every ratio is a few-bit binary number: with r0 rounded to 24 bits,
# r0 * ratio / r0 is exact and the key repeats.
_TRUNCATION_RATIOS = tuple(q / 4 * 2.0**j for j in range(12, 22) for q in (4, 5, 6, 7))


@lru_cache(maxsize=len(_FOLDING))
def _gsparams(folding_threshold: float) -> galsim.GSParams:
    # One GSParams object per level: GalSim caches its Sersic tables per GSParams.
    return galsim.GSParams(
        folding_threshold=folding_threshold, maxk_threshold=3e-3, minimum_fft_size=64
    )


@lru_cache(maxsize=len(_FOLDING))
def psf(folding_threshold: float = 1e-2) -> galsim.GSObject:
    """F160W-like PSF: 2.4 m obscured Airy at 1.545 um, blurred by jitter and drizzling.

    The Gaussian (sigma 0.055 arcsec) and the pixel response, which GalSim adds when drawing,
    bring the FWHM to 0.18 arcsec, that of the CANDELS F160W mosaics.
    """
    gsparams = _gsparams(folding_threshold)
    airy = galsim.Airy(
        lam=1545.0, diam=2.4, obscuration=0.33, scale_unit=galsim.arcsec, gsparams=gsparams
    )
    return galsim.Convolve(airy, galsim.Gaussian(sigma=0.055, gsparams=gsparams))


def _folding_threshold(flux: float) -> float:
    return next(threshold for limit, threshold in _FOLDING if flux < limit)


def _bulge(galaxy: Galaxy, radius: float, gsparams: galsim.GSParams) -> galsim.GSObject:
    """The de Vaucouleurs bulge, truncated where it changes no pixel kept within ``radius``.

    Without truncation, its far wings make GalSim use FFTs of up to 1024 pixels; with it, they
    stay within 256. Beyond ``radius`` the bulge is at most a fraction of the sky noise (see
    MAX_HALF_SIZE).
    """
    flux = galaxy.flux * galaxy.bulge_fraction
    hlr = galaxy.bulge_hlr * PIXEL_SCALE
    mantissa, exponent = math.frexp(galsim.DeVaucouleurs(half_light_radius=hlr).scale_radius)
    r0 = math.ldexp(round(mantissa * 2**24), exponent - 24)
    visible = _sersic_extent(flux, galaxy.bulge_hlr, 4, 1.0)
    needed = (min(visible, radius) + PSF_MARGIN) * PIXEL_SCALE
    ratio = next((r for r in _TRUNCATION_RATIOS if r * r0 >= needed), 0.0)
    bulge = galsim.DeVaucouleurs(
        scale_radius=r0, flux=flux, trunc=ratio * r0, flux_untruncated=True, gsparams=gsparams
    )
    return bulge.shear(q=galaxy.bulge_axis_ratio, beta=galaxy.angle * galsim.degrees)


def profile(galaxy: Galaxy, radius: float) -> galsim.GSObject:
    """The smooth light before the PSF: inclined disk, bulge and off-centre clump.

    Only pixels within ``radius`` (px) of the centre will be kept, which bounds the bulge. The
    knots are added in Fourier space by ``_add_knots``.
    """
    gsparams = _gsparams(_folding_threshold(galaxy.flux))
    bulge_flux = galaxy.flux * galaxy.bulge_fraction
    clump_flux = galaxy.flux * galaxy.clump_fraction
    disk_flux = galaxy.flux - bulge_flux - clump_flux - galaxy.flux * galaxy.knot_fraction
    # A thin exponential disk seen with axis ratio q (an area-preserving shear, as in GalSim's
    # own galaxy simulations): five times cheaper to draw than galsim.InclinedExponential.
    parts = [
        galsim.Exponential(
            half_light_radius=galaxy.disk_hlr * PIXEL_SCALE, flux=disk_flux, gsparams=gsparams
        ).shear(q=galaxy.disk_axis_ratio, beta=galaxy.angle * galsim.degrees)
    ]
    if bulge_flux > 0.0:
        parts.append(_bulge(galaxy, radius, gsparams))
    if clump_flux > 0.0:
        clump = galsim.Exponential(
            half_light_radius=galaxy.clump_hlr * PIXEL_SCALE, flux=clump_flux, gsparams=gsparams
        )
        parts.append(clump.shift(galaxy.clump_dx * PIXEL_SCALE, galaxy.clump_dy * PIXEL_SCALE))
    return galsim.Sum(parts)


def _add_knots(kimage: galsim.Image, galaxy: Galaxy, shift: tuple[float, float]) -> None:
    """Add the star-forming knots (point sources) to the galaxy's Fourier image, in place.

    A point of flux f at (x, y) is f exp(-i (kx x + ky y)); the phases factor into a row and a
    column term, so all knots cost one small matrix product instead of one GalSim object each.
    """
    if not galaxy.knots:
        return
    offsets = np.asarray(galaxy.knots) * PIXEL_SCALE + shift  # arcsec
    n_ky, n_kx = kimage.array.shape
    kx = kimage.scale * np.arange(n_kx)  # kimage bounds: kx in [0, N/2], ky in [-N/2, N/2]
    ky = kimage.scale * np.arange(-(n_ky // 2), n_ky // 2 + 1)
    flux = galaxy.flux * galaxy.knot_fraction / len(offsets)
    rows = np.exp(-1j * np.outer(ky, offsets[:, 1])) * flux
    columns = np.exp(-1j * np.outer(offsets[:, 0], kx))
    kimage.array[...] += rows @ columns


@lru_cache(maxsize=32)
def _psf_kimage(folding_threshold: float, bounds: galsim.BoundsI, dk: float) -> np.ndarray:
    """The PSF times the pixel response on one of the few k-grids GalSim picks for our stamps.

    Reusing it leaves only the galaxy to evaluate in Fourier space: 20 % faster.
    """
    gsparams = _gsparams(folding_threshold)
    kernel = galsim.Convolve(psf(folding_threshold), galsim.Pixel(PIXEL_SCALE, gsparams=gsparams))
    kimage = galsim.ImageCD(bounds, scale=dk)
    kernel._drawKImage(kimage)
    return kimage.array.copy()


@lru_cache(maxsize=len(_FOLDING))
def _pixel(folding_threshold: float) -> galsim.Pixel:
    return galsim.Pixel(PIXEL_SCALE, gsparams=_gsparams(folding_threshold))


@lru_cache(maxsize=MAX_HALF_SIZE + 1)
def _stamp(half: int) -> galsim.ImageF:
    """The (2 half + 1)-pixel square stamp centred on pixel (0, 0), reused by every galaxy.

    ``draw_galaxy`` overwrites all of it and copies it out at once, so one buffer per size is
    enough in a process.
    """
    stamp = galsim.ImageF(2 * half + 1, 2 * half + 1, scale=PIXEL_SCALE)
    stamp.setCenter(0, 0)
    return stamp


def _sersic_extent(flux: float, hlr: float, n: int, boost: float) -> float:
    """Radius (px) where a Sersic profile's brightness x ``boost`` falls to EXTENT_LEVEL."""
    if flux <= 0.0:
        return 0.0
    b = SERSIC_B[n]
    peak_e = flux * b ** (2 * n) / (2.0 * math.pi * n * math.exp(b) * gamma(2 * n) * hlr * hlr)
    ratio = boost * peak_e / EXTENT_LEVEL
    return hlr * (1.0 + math.log(ratio) / b) ** n if ratio > 1.0 else 0.0


def extent(galaxy: Galaxy) -> float:
    """Radius (px, major axis) beyond which the galaxy is fainter than EXTENT_LEVEL."""
    # The knots are points, placed on their own below.
    smooth = 1.0 - galaxy.bulge_fraction - galaxy.clump_fraction - galaxy.knot_fraction
    disk_flux = galaxy.flux * smooth
    bulge_flux = galaxy.flux * galaxy.bulge_fraction
    # An area-preserving shear stretches the major axis by 1/sqrt(q).
    disk = _sersic_extent(disk_flux, galaxy.disk_hlr, 1, 1.0) / math.sqrt(galaxy.disk_axis_ratio)
    bulge_q = galaxy.bulge_axis_ratio
    bulge = _sersic_extent(bulge_flux, galaxy.bulge_hlr, 4, 1.0) / math.sqrt(bulge_q)
    radius = max(disk, bulge)
    if galaxy.clump_fraction > 0.0:
        clump_flux = galaxy.flux * galaxy.clump_fraction
        offset = math.hypot(galaxy.clump_dx, galaxy.clump_dy)
        radius = max(radius, offset + _sersic_extent(clump_flux, galaxy.clump_hlr, 1, 1.0))
    if galaxy.knots:
        # Knots are point sources: every one is far above EXTENT_LEVEL, so all of them count.
        farthest = max(math.hypot(dx, dy) for dx, dy in galaxy.knots)
        radius = max(radius, farthest + KNOT_MARGIN - PSF_MARGIN)
    return radius


def draw_galaxy(galaxy: Galaxy, size: int = STAMP_SIZE) -> np.ndarray:
    """The noiseless galaxy on the ``size`` x ``size`` blend grid, float64, in e-/s per pixel."""
    ix, iy = round(galaxy.x), round(galaxy.y)
    # Half-size of the galaxy's own stamp: its extent, never more than needed to reach the
    # farthest pixel of the blend.
    farthest = max(ix, size - 1 - ix, iy, size - 1 - iy)
    half = max(7, min(math.ceil(extent(galaxy)) + PSF_MARGIN, farthest, MAX_HALF_SIZE))
    # GalSim's drawFFT, by hand (its documented recipe for reusing the PSF): the odd stamp is
    # centred on pixel (0, 0), the galaxy shifted by its sub-pixel offset.
    stamp = _stamp(half)
    folding = _folding_threshold(galaxy.flux)
    intrinsic = profile(galaxy, half)
    gsparams = _gsparams(folding)
    # The full convolution only sizes the k-grid (its maxk and stepk); nothing is drawn from it.
    observed = galsim.Convolve(intrinsic, psf(folding), _pixel(folding), gsparams=gsparams)
    kimage, wrap_size = observed.drawFFT_makeKImage(stamp)
    shift = ((galaxy.x - ix) * PIXEL_SCALE, (galaxy.y - iy) * PIXEL_SCALE)
    intrinsic.shift(shift)._drawKImage(kimage)
    _add_knots(kimage, galaxy, shift)
    kimage.array[...] *= _psf_kimage(folding, kimage.bounds, kimage.scale)
    observed.drawFFT_finish(stamp, kimage, wrap_size, add_to_image=False)
    image = np.zeros((size, size))
    row0, col0 = iy - half, ix - half
    rows = slice(max(row0, 0), min(row0 + 2 * half + 1, size))
    cols = slice(max(col0, 0), min(col0 + 2 * half + 1, size))
    image[rows, cols] = stamp.array[
        rows.start - row0 : rows.stop - row0, cols.start - col0 : cols.stop - col0
    ]
    return image
