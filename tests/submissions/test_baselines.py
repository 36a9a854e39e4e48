"""The reference submissions: unit tests on small synthetic blends, then `ramp-test`."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "submissions"
NOISE = 0.003  # ramp_kit.constants.NOISE_SIGMA = MASK_THRESHOLD


def load_submission(name):
    """Import submissions/<name>/deblender.py as a fresh module, as ramp-test does."""
    spec = importlib.util.spec_from_file_location(
        f"deblender_{name}", SUBMISSIONS / name / "deblender.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gaussian(size, x0, y0, peak, sigma):
    yy, xx = np.mgrid[:size, :size]
    return peak * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma**2))


def two_blob_blends(n, size=128, seed=0, central_peak=0.1, companion_peak=0.06):
    """Blends of a Gaussian at the centre and one at a random well-separated position."""
    rng = np.random.default_rng(seed)
    centre = (size - 1) / 2
    truth = np.zeros((n, size, size, 2), dtype=np.float32)
    for i in range(n):
        angle = rng.uniform(0, 2 * np.pi)
        x1, y1 = centre + 0.3 * size * np.cos(angle), centre + 0.3 * size * np.sin(angle)
        truth[i, ..., 0] = gaussian(size, centre, centre, central_peak, size / 25)
        truth[i, ..., 1] = gaussian(size, x1, y1, companion_peak, size / 32)
    blends = truth.sum(axis=-1) + rng.normal(0, NOISE, (n, size, size))
    return blends.astype(np.float32), truth


def iou(pred, truth):
    pred, truth = pred > 0.5, truth > NOISE
    return (pred & truth).sum() / (pred | truth).sum()


def test_starting_kit_predicts_binary_masks_of_the_right_shape():
    blends, truth = two_blob_blends(3)
    proba = load_submission("starting_kit").Deblender().fit(blends, truth).predict(blends)
    assert proba.shape == (3, 128, 128, 2)
    assert proba.dtype == np.float32
    assert set(np.unique(proba)) <= {0.0, 1.0}


def test_starting_kit_labels_the_central_blob_even_when_fainter():
    # The companion is the brighter source: the central galaxy is chosen by position.
    blends, truth = two_blob_blends(4, seed=1, central_peak=0.05, companion_peak=0.15)
    proba = load_submission("starting_kit").Deblender().fit(blends, truth).predict(blends)
    for i in range(4):
        companion_peak = np.unravel_index(np.argmax(truth[i, ..., 1]), (128, 128))
        assert proba[i, 64, 64, 0] == 1 and proba[i, 64, 64, 1] == 0
        assert proba[i][companion_peak].tolist() == [0.0, 1.0]
        assert iou(proba[i, ..., 0], truth[i, ..., 0]) > 0.3
        assert iou(proba[i, ..., 1], truth[i, ..., 1]) > 0.3


def test_starting_kit_measures_the_sky_noise_in_fit():
    blends, truth = two_blob_blends(4)
    deblender = load_submission("starting_kit").Deblender().fit(blends, truth)
    assert deblender.noise_sigma == pytest.approx(NOISE, rel=0.05)


def test_starting_kit_accepts_big_endian_images_without_fit():
    # FITS files are big-endian; without fit() the noise comes from sep.Background.
    blends, _ = two_blob_blends(2, seed=2)
    proba = load_submission("starting_kit").Deblender().predict(blends.astype(">f4"))
    assert (proba[:, 64, 64, 0] == 1).all()
    assert (proba[..., 1].sum(axis=(1, 2)) > 0).all()


def test_starting_kit_empty_sky_gives_empty_masks():
    rng = np.random.default_rng(3)
    blends = rng.normal(0, NOISE, (2, 128, 128)).astype(np.float32)
    truth = np.zeros((2, 128, 128, 2), dtype=np.float32)
    proba = load_submission("starting_kit").Deblender().fit(blends, truth).predict(blends)
    assert proba.sum() == 0


@pytest.mark.parametrize("name", ["fcnn", "unet"])
def test_network_learns_a_fixed_central_mask(name, monkeypatch):
    # 32x32 stamps with the same central galaxy and a companion at a random place: after a
    # short training both masks must be found on the training blends.
    monkeypatch.delenv("RAMP_TEST_MODE", raising=False)
    monkeypatch.setenv("DEBLEND_EPOCHS", "40")
    monkeypatch.setenv("DEBLEND_BATCH_SIZE", "8")
    blends, truth = two_blob_blends(32, size=32, seed=4)
    proba = load_submission(name).Deblender().fit(blends, truth).predict(blends)
    assert proba.shape == (32, 32, 32, 2)
    assert proba.min() >= 0 and proba.max() <= 1
    assert iou(proba[..., 0], truth[..., 0]) > 0.8


@pytest.mark.parametrize("name", ["fcnn", "unet"])
def test_network_quick_test_mode_trains_one_epoch(name, monkeypatch, capsys):
    monkeypatch.setenv("RAMP_TEST_MODE", "1")
    monkeypatch.setenv("DEBLEND_EPOCHS", "50")
    blends, truth = two_blob_blends(4, size=32)
    proba = load_submission(name).Deblender().fit(blends, truth).predict(blends[:2])
    assert proba.shape == (2, 32, 32, 2)
    output = capsys.readouterr().out
    assert "for 1 epoch(s)" in output
    assert "Epoch 2/" not in output


def test_unet_training_is_reproducible(monkeypatch):
    monkeypatch.setenv("DEBLEND_EPOCHS", "2")
    blends, truth = two_blob_blends(8, size=32, seed=5)
    first = load_submission("unet").Deblender().fit(blends, truth).predict(blends)
    second = load_submission("unet").Deblender().fit(blends, truth).predict(blends)
    np.testing.assert_allclose(first, second, atol=1e-5)


@pytest.fixture(scope="session")
def quick_release(tmp_path_factory):
    """A tiny student release (data/train, data/test) made by the kit's simulator."""
    from ramp_kit.data import generate_student_release

    out_dir = tmp_path_factory.mktemp("release")
    generate_student_release(out_dir, n_train=24, n_test=12, seed=2019, jobs=1, progress=False)
    return out_dir


@pytest.mark.parametrize("name", ["starting_kit", "fcnn", "unet"])
def test_submission_passes_ramp_test_quick_test(name, quick_release, tmp_path):
    # Run from a copy so that ramp-test writes nothing into the source tree.
    submission_dir = tmp_path / "submissions" / name
    submission_dir.mkdir(parents=True)
    shutil.copy(SUBMISSIONS / name / "deblender.py", submission_dir)
    command = [
        str(Path(sys.executable).parent / "ramp-test"),
        "--ramp-kit-dir", str(ROOT / "ramp_kit"),
        "--ramp-data-dir", str(quick_release),
        "--ramp-submission-dir", str(tmp_path / "submissions"),
        "--submission", name,
        "--quick-test",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "central_iou" in result.stdout
    assert "Testing" in result.stdout


def test_unet_central_target_leaves_out_companion_dominated_pixels():
    # One row of 4 pixels (central, companion), threshold 0.003, dominance factor 2:
    # 0.010 vs 0.030 -> 2 x 0.010 < 0.030, left out; 0.020 vs 0.030 -> kept;
    # 0.002 vs 0.0 -> below threshold; 0.050 vs 0.0 -> kept. The companion mask is unchanged.
    truth = np.array([[[[0.010, 0.030], [0.020, 0.030], [0.002, 0.0], [0.050, 0.0]]]], np.float32)
    masks = load_submission("unet").training_masks(truth)
    assert masks[0, 0, :, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert masks[0, 0, :, 1].tolist() == [1.0, 1.0, 0.0, 0.0]
