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
