"""The kit's problem.py honours the ramp-workflow contract; ``ramp-test`` runs on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from ramp_kit import problem
from ramp_kit.constants import STAMP_SIZE
from ramp_kit.io import write_split

KIT_DIR = Path(problem.__file__).parent
RAMP_TEST = Path(sys.executable).parent / "ramp-test"

DISK_DEBLENDER = """
from pathlib import Path

import numpy as np

RADIUS = float((Path(__file__).parent / "radius.txt").read_text())


class Deblender:
    def fit(self, X, y):
        self.n_seen = len(X)

    def predict(self, X):
        yy, xx = np.mgrid[:128, :128]
        disk = ((yy - 64) ** 2 + (xx - 64) ** 2 < RADIUS**2).astype(np.float32)
        # The light inside the disk to the central galaxy, the rest to the companion.
        y_pred = np.empty((len(X), 128, 128, 2), dtype=np.float32)
        y_pred[..., 0] = X * disk
        y_pred[..., 1] = X * (1 - disk)
        return y_pred
"""
SCORE_NAMES = [
    "central_flux_error",
    "companion_flux_error",
    "central_flux_bias",
    "central_outlier_fraction",
    "image_residual",
    "central_iou",
]


def gaussian_blends(n_blends: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Blends (n, 128, 128) and truth (n, 2, 128, 128): a central and an offset Gaussian."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:STAMP_SIZE, :STAMP_SIZE].astype(np.float32)
    truth = np.empty((n_blends, 2, STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
    for i in range(n_blends):
        cy, cx = rng.uniform(40, 88, size=2)
        truth[i, 0] = np.exp(-((yy - 64) ** 2 + (xx - 64) ** 2) / (2 * 6.0**2))
        truth[i, 1] = 0.5 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 4.0**2))
    blends = truth.sum(axis=1) + rng.normal(0, 0.003, size=(n_blends, STAMP_SIZE, STAMP_SIZE))
    return blends.astype(np.float32), truth


def write_release(root: Path, n_train: int, n_test: int) -> Path:
    for split, n_blends, seed in (("train", n_train, 1), ("test", n_test, 2)):
        blends, truth = gaussian_blends(n_blends, seed)
        write_split(root / "data" / split, blends, truth, Table({"id": np.arange(n_blends)}))
    return root


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return write_release(tmp_path / "release", n_train=20, n_test=10)


def test_problem_score_types_official_score_first() -> None:
    assert [score_type.name for score_type in problem.score_types] == SCORE_NAMES
    official = problem.score_types[0]
    assert official.is_lower_the_better and official.precision == 2


def test_problem_hooks_for_the_platform() -> None:
    # The platform looks the optional hooks up by name, and the description beside them.
    assert callable(getattr(problem, "preview_png", None))
    assert callable(getattr(problem, "diagnostics", None))
    description = (KIT_DIR / "DESCRIPTION.md").read_text()
    for name in SCORE_NAMES:
        assert f"`{name}`" in description


def test_problem_train_data_shapes(release: Path) -> None:
    blends, y = problem.get_train_data(path=release)
    assert blends.shape == (20, 128, 128)
    assert y.shape == (20, 128, 128, 2)


def test_problem_quick_test_uses_first_blends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_release(tmp_path, n_train=70, n_test=40)
    monkeypatch.setenv("RAMP_TEST_MODE", "1")
    blends_train, _ = problem.get_train_data(path=root)
    blends_test, y_test = problem.get_test_data(path=root)
    assert (len(blends_train), len(blends_test), len(y_test)) == (64, 32, 32)


def test_problem_cv_default_is_one_80_20_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBLEND_N_FOLDS", raising=False)
    blends = np.zeros((50, 128, 128), dtype=np.float32)
    folds = list(problem.get_cv(blends, None))
    assert len(folds) == 1
    train_is, valid_is = folds[0]
    assert (len(train_is), len(valid_is)) == (40, 10)
    assert set(train_is).isdisjoint(valid_is)
    assert [list(valid) for _, valid in problem.get_cv(blends, None)] == [list(valid_is)]


def test_problem_cv_k_folds_cover_each_blend_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBLEND_N_FOLDS", "3")
    blends = np.zeros((30, 128, 128), dtype=np.float32)
    folds = list(problem.get_cv(blends, None))
    assert len(folds) == 3
    assert sorted(np.concatenate([valid for _, valid in folds])) == list(range(30))


def test_problem_cv_bad_fold_count_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBLEND_N_FOLDS", "zero")
    with pytest.raises(ValueError, match="DEBLEND_N_FOLDS should be a whole number"):
        list(problem.get_cv(np.zeros((10, 128, 128)), None))


def test_problem_ramp_test_quick_test_runs_to_bagged_scores(release: Path, tmp_path: Path) -> None:
    submission = tmp_path / "submissions" / "disk"
    submission.mkdir(parents=True)
    (submission / "deblender.py").write_text(DISK_DEBLENDER)
    (submission / "radius.txt").write_text("12\n")
    env = {key: value for key, value in os.environ.items() if key != "DEBLEND_N_FOLDS"}
    result = subprocess.run(
        [
            str(RAMP_TEST),
            "--ramp-kit-dir",
            str(KIT_DIR),
            "--ramp-data-dir",
            str(release),
            "--ramp-submission-dir",
            str(tmp_path / "submissions"),
            "--submission",
            "disk",
            "--quick-test",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    bagged = result.stdout.split("Bagged scores")[-1]
    for name in SCORE_NAMES:
        assert name in bagged
    assert "test" in bagged and "valid" in bagged
