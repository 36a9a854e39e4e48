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

from ramp_kit.constants import (
    DEPTH_APERTURE,
    EXPOSURE_TIME,
    NOISE_SIGMA,
    PIXEL_SCALE,
    STAMP_SIZE,
    ZERO_POINT,
)

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
    """Poisson noise of the source electrons collected in EXPOSURE_TIME, in e-/s (zero mean).

    Drawn in its Gaussian limit, ten times faster than Poisson draws: where a pixel collects
    fewer than ~1,000 electrons, the sky noise is larger than this noise, so its skew is lost in
    the sky; above, Poisson and Gaussian agree.
    """
    electrons = np.clip(signal, 0.0, None) * EXPOSURE_TIME
    return np.sqrt(electrons) * rng.standard_normal(signal.shape) / EXPOSURE_TIME


def aperture_weights(diameter: float = DEPTH_APERTURE, oversample: int = 16) -> np.ndarray:
    """The share of each pixel inside a circle of ``diameter`` arcsec centred on a pixel."""
    radius = 0.5 * diameter / PIXEL_SCALE
    half = int(np.ceil(radius))
    fine = (np.arange((2 * half + 1) * oversample) + 0.5) / oversample - half - 0.5
    inside = np.hypot(*np.meshgrid(fine, fine)) <= radius
    return inside.reshape(2 * half + 1, oversample, 2 * half + 1, oversample).mean(axis=(1, 3))


def point_source_depth(
    residuals: np.ndarray, signals: np.ndarray, psf_image: np.ndarray, n_sigma: float = 5.0
) -> float:
    """The ``n_sigma`` point-source depth (AB magnitude) of noisy images, as surveys quote it.

    ``residuals`` are images minus their noiseless content (``signals``), (N, H, W). Apertures of
    DEPTH_APERTURE diameter are laid on a grid and kept where no source adds light (the signal
    stays below 1 % of the sky rms over the aperture); the rms of their sums is the aperture
    noise. The depth is the total magnitude of a point source whose flux inside the aperture is
    ``n_sigma`` times that noise: ``psf_image`` (odd-sized, centred, unit flux, pixel response
    included) gives the share of its flux that the aperture holds.
    """
    weights = aperture_weights()
    half = weights.shape[0] // 2
    size = residuals.shape[-1]
    centres = np.arange(half + 2, size - half - 2, 2 * half + 3)  # apart: no shared pixel
    sums = []
    for residual, signal in zip(residuals, signals, strict=True):
        for row in centres:
            for col in centres:
                window = (slice(row - half, row + half + 1), slice(col - half, col + half + 1))
                if signal[window].max() < 0.01 * NOISE_SIGMA:
                    sums.append(float(np.sum(residual[window] * weights)))
    if len(sums) < 100:
        raise ValueError(f"only {len(sums)} empty apertures; give more images (expected >= 100)")
    middle = psf_image.shape[0] // 2
    core = psf_image[middle - half : middle + half + 1, middle - half : middle + half + 1]
    enclosed = float(np.sum(core * weights))
    return ZERO_POINT - 2.5 * float(np.log10(n_sigma * np.std(sums) / enclosed))
