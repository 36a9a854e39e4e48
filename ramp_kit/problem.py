"""The deblending challenge as a ramp-workflow problem (``ramp-test`` reads this module).

Score types: ``central_iou`` (official), ``companion_iou``, ``overlap_iou``, ``flux_error``.
Data: ``<path>/data/train`` and ``<path>/data/test`` (see ``ramp_kit.io``). With
``RAMP_TEST_MODE`` set (``ramp-test --quick-test``) only the first blends are used. The
number of CV folds is read from ``DEBLEND_N_FOLDS`` (default 1: one shuffled 80/20 split,
since every fold costs GPU time on the server).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold, ShuffleSplit

from ramp_kit.constants import MASK_THRESHOLD
from ramp_kit.io import read_split
from ramp_kit.predictions import Predictions  # noqa: F401 (ramp-workflow reads it here)
from ramp_kit.workflow import DeblenderWorkflow
from scoring.central_iou import CentralIoU
from scoring.companion_iou import CompanionIoU
from scoring.flux_error import FluxError
from scoring.overlap_iou import OverlapIoU

problem_title = "Galaxy deblending: segment a central galaxy and its companion"
workflow = DeblenderWorkflow()
score_types = [
    CentralIoU(mask_threshold=MASK_THRESHOLD),
    CompanionIoU(mask_threshold=MASK_THRESHOLD),
    OverlapIoU(mask_threshold=MASK_THRESHOLD),
    FluxError(),
]

N_FOLDS_VARIABLE = "DEBLEND_N_FOLDS"
QUICK_TEST_TRAIN = 64
QUICK_TEST_TEST = 32
VALID_FRACTION = 0.2
CV_SEED = 57


def n_folds() -> int:
    """The number of CV folds from ``DEBLEND_N_FOLDS`` (default 1)."""
    value = os.environ.get(N_FOLDS_VARIABLE, "1")
    try:
        folds = int(value)
    except ValueError:
        folds = 0
    if folds < 1:
        raise ValueError(
            f"{N_FOLDS_VARIABLE} should be a whole number of folds >= 1, got {value!r}; "
            f"unset it for one 80/20 split"
        )
    return folds


def get_cv(X: np.ndarray, y: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # noqa: N803
    """Shuffled (train, valid) index pairs: one 80/20 split, or k folds if k > 1."""
    folds = n_folds()
    if folds == 1:
        splitter = ShuffleSplit(n_splits=1, test_size=VALID_FRACTION, random_state=CV_SEED)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=CV_SEED)
    return splitter.split(np.empty(len(X)))


def _quick_test() -> bool:
    return os.environ.get("RAMP_TEST_MODE", "") not in ("", "0")


def _read(path: str | Path, split: str, quick_size: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = read_split(Path(path) / "data" / split)  # noqa: N806
    if _quick_test():
        # Slices of the memory maps: the quick test reads only these blends.
        return X[:quick_size], y[:quick_size]
    return X, y


def get_train_data(path: str | Path = ".") -> tuple[np.ndarray, np.ndarray]:
    """Training blends (N, 128, 128) and truth images (N, 128, 128, 2), memory-mapped."""
    return _read(path, "train", QUICK_TEST_TRAIN)


def get_test_data(path: str | Path = ".") -> tuple[np.ndarray, np.ndarray]:
    """Test blends (N, 128, 128) and truth images (N, 128, 128, 2), memory-mapped."""
    return _read(path, "test", QUICK_TEST_TEST)
