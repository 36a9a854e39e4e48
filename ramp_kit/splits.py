"""Which blends a submission trains and is validated on: the data and the CV folds.

``problem.py`` exposes these to ramp-workflow; the sandboxed worker imports them directly,
which keeps its start fast (numpy and astropy only, no ramp-workflow, pandas or sklearn).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ramp_kit.io import read_split

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
    """Shuffled (train, valid) index pairs: one 80/20 split, or k folds if k > 1.

    The shuffle is fixed (seeded), so every submission is validated on the same blends.
    """
    folds = n_folds()
    order = np.random.default_rng(CV_SEED).permutation(len(X))
    if folds == 1:
        n_valid = max(1, round(VALID_FRACTION * len(X)))
        yield np.sort(order[n_valid:]), np.sort(order[:n_valid])
        return
    if folds > len(X):
        raise ValueError(f"cannot make {folds} folds of {len(X)} blends; use fewer folds")
    for valid_is in np.array_split(order, folds):
        yield np.sort(np.setdiff1d(order, valid_is)), np.sort(valid_is)


def quick_test() -> bool:
    """Whether ``ramp-test --quick-test`` (``RAMP_TEST_MODE``) asks for a tiny subset."""
    return os.environ.get("RAMP_TEST_MODE", "") not in ("", "0")


def _read(path: str | Path, split: str, quick_size: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = read_split(Path(path) / "data" / split)  # noqa: N806
    if quick_test():
        # Slices of the memory maps: the quick test reads only these blends.
        return X[:quick_size], y[:quick_size]
    return X, y


def get_train_data(path: str | Path = ".") -> tuple[np.ndarray, np.ndarray]:
    """Training blends (N, 128, 128) and truth images (N, 128, 128, 2), memory-mapped."""
    return _read(path, "train", QUICK_TEST_TRAIN)


def get_test_data(path: str | Path = ".") -> tuple[np.ndarray, np.ndarray]:
    """Test blends (N, 128, 128) and truth images (N, 128, 128, 2), memory-mapped."""
    return _read(path, "test", QUICK_TEST_TEST)
