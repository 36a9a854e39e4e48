"""The ramp-workflow workflow of the kit: one element, ``deblender.py``.

A submission is a folder holding ``deblender.py``, which defines ``class Deblender`` with
``fit(X, y)`` and ``predict(X)``. ``X`` is a native-endian float32 array of blends
(n, 128, 128), ``y`` the truth images (n, 128, 128, 2); ``predict`` returns probabilities
(n, 128, 128, 2) in [0, 1], channel 0 for the central galaxy and 1 for its companion.

Submissions are plain Python: unlike ramp-workflow's own workflows, the source is not run
through its keyword sanitizer (which forbids ``open``), so a submission may read files it
ships, e.g. trained weights. It finds its folder with ``Path(__file__).parent``; while it is
imported, trained and run, that folder is also on ``sys.path``, so it may import helper
modules it ships (give them names unlikely to clash with installed packages).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ramp_kit.constants import IMAGE_SHAPE

# Rows converted per step when copying a (memory-mapped) split into native float32.
COPY_CHUNK = 256


def import_submission_module(source: Path, name: str) -> ModuleType:
    """Execute ``source`` as a module named ``name``, not registered in ``sys.modules``.

    Plain importlib, as ramp-workflow does, without importing ramp-workflow itself: the
    sandboxed worker starts faster without it (and its pandas and scikit-learn).
    """
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source} as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def submission_on_path(module_path: str | Path) -> Iterator[None]:
    """Put the submission folder first on ``sys.path`` for the duration of the block."""
    folder = str(Path(module_path).resolve())
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.path.remove(folder)


def native_rows(array: np.ndarray, rows: np.ndarray | slice | None = None) -> np.ndarray:
    """The selected rows of ``array`` as a C-contiguous, native-endian float32 copy.

    FITS memory maps are big-endian; copying a chunk at a time keeps the peak memory at the
    output plus one chunk.
    """
    indexes = np.arange(len(array))[slice(None) if rows is None else rows]
    out = np.empty((len(indexes), *array.shape[1:]), dtype=np.float32)
    for start in range(0, len(indexes), COPY_CHUNK):
        chunk = indexes[start : start + COPY_CHUNK]
        out[start : start + len(chunk)] = array[chunk]
    return out


def check_prediction(y_pred: Any, n_images: int) -> np.ndarray:
    """``y_pred`` as float32 if it is (n_images, 128, 128, 2) finite values in [0, 1]."""
    expected = (n_images, *IMAGE_SHAPE)
    try:
        array = np.asarray(y_pred, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Deblender.predict should return a numpy array of shape {expected}, "
            f"got {type(y_pred).__name__} that is not a float array: {error}"
        ) from error
    if array.shape != expected:
        raise ValueError(
            f"Deblender.predict should return shape {expected} (one central and one "
            f"companion probability per pixel of each blend), got {array.shape}"
        )
    # min/max propagate NaN, so this one check also refuses NaN and infinities.
    low, high = float(array.min()), float(array.max())
    if not (0.0 <= low and high <= 1.0):
        raise ValueError(
            "Deblender.predict should return finite probabilities in [0, 1], got values "
            f"from {low:.4g} to {high:.4g}; apply a sigmoid or softmax, or np.clip(y, 0, 1)"
        )
    return array


@dataclass
class TrainedDeblender:
    """A fitted ``Deblender`` and the submission folder it came from."""

    deblender: Any
    module_path: str

    def predict(self, X: np.ndarray) -> Any:  # noqa: N803 (the student-facing name)
        with submission_on_path(self.module_path):
            return self.deblender.predict(X)


class DeblenderWorkflow:
    """Train and run the ``Deblender`` of a submission's ``deblender.py``."""

    def __init__(self, element_name: str = "deblender") -> None:
        self.element_names = [element_name]

    def train_submission(
        self,
        module_path: str,
        X_array: np.ndarray,  # noqa: N803 (ramp-workflow's argument names)
        y_array: np.ndarray,
        train_is: np.ndarray | slice | None = None,
        prev_trained_model: Any = None,
    ) -> TrainedDeblender:
        """Import ``deblender.py`` from ``module_path`` and fit a ``Deblender`` on the rows."""
        source = Path(module_path) / f"{self.element_names[0]}.py"
        with submission_on_path(module_path):
            module = import_submission_module(source, self.element_names[0])
            if not hasattr(module, "Deblender"):
                raise AttributeError(f"{source} should define a class Deblender; none found")
            deblender = module.Deblender()
            X = native_rows(X_array, train_is)  # noqa: N806
            y = native_rows(y_array, train_is)
            if prev_trained_model is None:
                deblender.fit(X, y)
            else:
                deblender.fit(X, y, prev_trained_model)
        return TrainedDeblender(deblender, str(module_path))

    def test_submission(
        self,
        trained_model: TrainedDeblender,
        X_array: np.ndarray,  # noqa: N803
    ) -> np.ndarray:
        """Probabilities (n, 128, 128, 2) of the trained ``Deblender`` on every blend."""
        X = native_rows(X_array)  # noqa: N806
        return check_prediction(trained_model.predict(X), len(X))
