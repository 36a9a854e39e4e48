"""The morphology measurements on images whose answers are known in closed form."""

import math

import numpy as np
import pytest
from morph_features import FEATURES, PIXEL_SCALE, measure

SIZE = 96
ROWS, COLS = np.indices((SIZE, SIZE))
CENTRE = (47.8, 47.3)  # off the pixel grid on purpose
NOISELESS = 1e-6  # a noise rms far below the images' pixels


def gaussian(sigma_row, sigma_col, centre=CENTRE, flux=1.0):
    image = np.exp(
        -0.5 * (((ROWS - centre[0]) / sigma_row) ** 2 + ((COLS - centre[1]) / sigma_col) ** 2)
    )
    return flux * image / image.sum()


@pytest.fixture(scope="module")
def round_gaussian():
    return measure(gaussian(5.0, 5.0), NOISELESS)


def test_measure_returns_every_feature_as_a_float(round_gaussian):
    assert list(round_gaussian) == list(FEATURES)
    assert all(type(value) is float for value in round_gaussian.values())


def test_concentration_of_a_gaussian(round_gaussian):
    # A 2-D Gaussian holds the fraction f within r = sigma sqrt(-2 ln(1 - f)), so
    # r80 / r20 = sqrt(ln 5 / ln 1.25) = 2.6856 and C = 5 log10(2.6856) = 2.145.
    assert round_gaussian["concentration"] == pytest.approx(2.145, abs=0.03)


def test_half_light_radius_of_a_gaussian(round_gaussian):
    # r50 = sigma sqrt(2 ln 2) = 5 x 1.1774 = 5.887 px = 0.3532 arcsec.
    assert round_gaussian["half_light_radius"] == pytest.approx(5.887 * PIXEL_SCALE, rel=0.01)


def test_petrosian_radius_of_a_gaussian(round_gaussian):
    # With u = r^2 / (2 sigma^2), local / mean-inside brightness is u e^-u / (1 - e^-u), which
    # is 0.2 at u = 2.66: r = 5 sqrt(5.32) = 11.5 px (the annulus average shifts it a little).
    assert round_gaussian["petrosian_radius"] == pytest.approx(11.5 * PIXEL_SCALE, rel=0.03)


def test_m20_of_a_gaussian(round_gaussian):
    # The brightest 20 % of the light lies within u = -ln 0.8 = 0.2231; its share of the second
    # moment is 1 - (1 + u) e^-u = 1 - 1.2231 x 0.8 = 0.02149: M20 = log10(0.02149) = -1.668.
    assert round_gaussian["m20"] == pytest.approx(-1.668, abs=0.01)


def test_a_round_gaussian_is_symmetric_and_round(round_gaussian):
    assert abs(round_gaussian["asymmetry"]) < 0.005
    assert round_gaussian["ellipticity"] < 0.01
    assert round_gaussian["shape_asymmetry"] < 0.05


def test_magnitude_of_a_known_flux():
    # 10 e-/s is 2.5 magnitudes brighter than the zero point's 1 e-/s.
    mag = measure(gaussian(4.0, 4.0, flux=10.0), NOISELESS)["mag"]
    assert mag == pytest.approx(25.96 - 2.5, abs=0.01)


def test_ellipticity_of_an_elongated_gaussian():
    # Axis ratio 3 / 6: 1 - b/a = 0.5.
    assert measure(gaussian(3.0, 6.0), NOISELESS)["ellipticity"] == pytest.approx(0.5, abs=0.01)


def test_an_off_centre_clump_raises_asymmetry_and_m20(round_gaussian):
    clump = gaussian(1.5, 1.5, centre=(CENTRE[0] + 8, CENTRE[1]), flux=0.3)
    lopsided = measure(0.7 * gaussian(4.0, 4.0) + clump, NOISELESS)
    # The clump (30 % of the light) lands on empty sky when rotated, and its mirror image is
    # missing: |I - I_180| counts it twice, A ~ 0.6.
    assert lopsided["asymmetry"] > 0.5
    # Its bright pixels are 8 px out: they dominate the second moment of the brightest 20 %.
    assert lopsided["m20"] > round_gaussian["m20"] + 0.5
    assert lopsided["concentration"] < round_gaussian["concentration"]


def test_noise_terms_cancel_for_a_smooth_symmetric_galaxy():
    # In noise, |I - I_180| and the small-scale residual gain the noise's own share, which the
    # closed-form background terms remove: a smooth, symmetric galaxy stays near zero.
    rng = np.random.default_rng(0)
    noisy = measure(gaussian(5.0, 5.0) + rng.normal(0.0, 3e-4, (SIZE, SIZE)), 3e-4)
    raw_noise_share = 2 * 3e-4 / math.sqrt(math.pi) * math.pi * (1.5 * 11.5) ** 2
    assert raw_noise_share > 0.1  # what the asymmetry would be without the correction
    assert abs(noisy["asymmetry"]) < 0.03
    assert abs(noisy["smoothness"]) < 0.03


def test_an_undetected_source_still_gets_finite_features():
    sky = np.random.default_rng(1).normal(0.0, 3e-3, (SIZE, SIZE))
    assert all(math.isfinite(value) for value in measure(sky, 3e-3).values())
