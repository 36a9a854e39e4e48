"""Noise of a simulated stamp: correlated sky noise of drizzled HST images plus source shot noise.

The sky is subtracted, so its own shot noise is a zero-mean Gaussian field with rms
``NOISE_SIGMA`` whose pixel-to-pixel correlation is the one GalSim ships for drizzled HST ACS
images (``acs_I_unrot_sci_20_cf.fits``, read through ``galsim.getCOSMOSNoise``). Drizzling makes
the same kind of correlation, in output pixels, in CANDELS WFC3/IR mosaics, so the correlation
function is used in units of our pixels. Drawing through ``galsim.CorrelatedNoise`` costs about a
millisecond per stamp; instead its power spectrum is computed once and fields are made in batch
with numpy FFTs (0.2 ms a stamp), the same Gaussian process on a periodic stamp.
"""

from __future__ import annotations

from functools import lru_cache

import galsim
import numpy as np

from ramp_kit.constants import EXPOSURE_TIME, NOISE_SIGMA, PIXEL_SCALE, STAMP_SIZE

# Beyond a few pixels the measured correlation is at the level of its own measurement noise
# (< 0.4 % of the peak); a cosine taper between these radii keeps that noise from adding
# spurious large-scale power.
_TAPER_START = 8.0
_TAPER_END = 16.0


@lru_cache(maxsize=4)
def noise_amplitude(size: int = STAMP_SIZE) -> np.ndarray:
    """sqrt of the noise power spectrum on a ``size`` x ``size`` grid (rfft2 layout), unit rms."""
    cosmos = galsim.getCOSMOSNoise(cosmos_scale=PIXEL_SCALE, variance=1.0)
    cf = cosmos.drawImage(galsim.ImageD(size, size, scale=PIXEL_SCALE)).array
    lag_y, lag_x = np.mgrid[:size, :size] - size // 2  # drawImage puts zero lag at size // 2
    lag = np.hypot(lag_x, lag_y)
    ramp = np.clip((lag - _TAPER_START) / (_TAPER_END - _TAPER_START), 0.0, 1.0)
    cf = cf * 0.5 * (1.0 + np.cos(np.pi * ramp))
    power = np.fft.rfft2(np.fft.ifftshift(cf)).real
    # A tapered correlation function can have tiny negative power; a spectrum cannot.
    power = np.clip(power, 0.0, None)
    # Parseval: the field's variance is the mean of the (full) power spectrum.
    full_power = np.fft.irfft2(power, s=(size, size))[0, 0]
    return np.sqrt(power / full_power)


def correlated_noise(rng: np.random.Generator, size: int = STAMP_SIZE) -> np.ndarray:
    """A correlated sky noise field, (size, size) float64 with rms NOISE_SIGMA."""
    white = rng.standard_normal((size, size))
    field = np.fft.irfft2(np.fft.rfft2(white) * noise_amplitude(size), s=(size, size))
    return field * NOISE_SIGMA


def shot_noise(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson noise of the source electrons collected in EXPOSURE_TIME, in e-/s (zero mean)."""
    electrons = np.clip(signal, 0.0, None) * EXPOSURE_TIME
    return (rng.poisson(electrons) - electrons) / EXPOSURE_TIME
