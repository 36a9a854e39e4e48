"""The decomposition of the central flux error that ``docs/error_sources.py`` prints."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ramp_kit.scoring.central_flux_error import CentralFluxError

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "error_sources.py"


@pytest.fixture(scope="module")
def error_sources():
    spec = importlib.util.spec_from_file_location("error_sources", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def noisy_blends(seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.exponential(1.0, (6, 16, 16, 2))
    blends = truth.sum(axis=-1) + rng.normal(0, 0.3, (6, 16, 16))
    return blends, truth


def test_parts_add_up_to_the_official_score(error_sources):
    blends, truth = noisy_blends()
    central = 0.6 * blends  # a crude split
    parts = error_sources.central_error_parts(blends, truth, central)
    np.testing.assert_allclose(parts["signal part"] + parts["noise part"], parts["total"])
    images = np.stack([central, blends - central], axis=-1)
    score = CentralFluxError()(truth, images)
    assert 100 * np.abs(parts["total"]).mean() == pytest.approx(score)


def test_true_fractions_keep_only_noise(error_sources):
    blends, truth = noisy_blends(1)
    central = truth[..., 0] / truth.sum(axis=-1) * blends
    parts = error_sources.central_error_parts(blends, truth, central)
    np.testing.assert_allclose(parts["signal part"], 0, atol=1e-12)
    np.testing.assert_allclose(parts["noise part"], parts["noise part of the true fractions"])


def test_a_higher_sky_level_gives_more_light_to_nobody(error_sources):
    blends, truth = noisy_blends(2)
    none = error_sources.sky_level_errors(blends, truth, 0.0)
    # No sky level: the true fractions, nothing lost, the error is the noise part alone.
    np.testing.assert_allclose(none["lost"], 0, atol=1e-12)
    parts = error_sources.central_error_parts(
        blends, truth, truth[..., 0] / truth.sum(-1) * blends
    )
    np.testing.assert_allclose(none["error"], parts["noise part of the true fractions"])
    lost = [error_sources.sky_level_errors(blends, truth, s)["lost"].mean() for s in (0.1, 1, 10)]
    assert 0 < lost[0] < lost[1] < lost[2] < 1
