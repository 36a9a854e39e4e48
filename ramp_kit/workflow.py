"""The ramp-workflow workflow of the kit: one element, ``deblender.py``.

A submission is a folder holding ``deblender.py``, which defines ``class Deblender`` with
``fit(X, y)`` and ``predict(X)``. ``X`` is a native-endian float32 array of blends
(n, 128, 128) in e-/s, ``y`` the truth images (n, 128, 128, 2); ``predict`` returns the
deblended images (n, 128, 128, 2) in e-/s, channel 0 the central galaxy and 1 its
companion, each as it would look alone and without noise.

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
    """``y_pred`` as float32 if it is (n_images, 128, 128, 2) finite real numbers.

    The one check of a submission's predictions, with what was expected, what came, and
    the fix. Integers and float64 are accepted and converted; negative values are allowed
    (a noisy estimate of a faint pixel may be below zero).
    """
    expected = (n_images, *IMAGE_SHAPE)
    try:
        raw = np.asarray(y_pred)
    except ValueError as error:  # e.g. a ragged list of images
        raise ValueError(
            f"Deblender.predict should return a numpy array of shape {expected}, got "
            f"{type(y_pred).__name__} that does not make one: {error}"
        ) from error
    if raw.dtype.kind == "b":
        raise ValueError(
            "Deblender.predict should return deblended images (float32, e-/s), got a "
            "boolean array; to deblend with masks, return the blend times the masks, "
            "e.g. X[..., None] * masks"
        )
    if raw.dtype.kind not in "iuf":
        raise ValueError(
            f"Deblender.predict should return real numbers (float32, e-/s) of shape "
            f"{expected}, got dtype {raw.dtype}; return np.asarray(images, dtype=np.float32)"
        )
    with np.errstate(over="ignore"):  # float64 beyond float32's range: refused below
        array = raw.astype(np.float32, copy=False)
    if array.shape != expected:
        raise ValueError(
            f"Deblender.predict should return shape {expected} (the central and the "
            f"companion image of each blend, channels last), got {array.shape}"
        )
    # min and max propagate NaN and keep infinities: two passes, no temporary array.
    if array.size and not (np.isfinite(array.min()) and np.isfinite(array.max())):
        bad = ~np.isfinite(array)
        blends = np.flatnonzero(bad.any(axis=(1, 2, 3)))
        raise ValueError(
            f"Deblender.predict should return finite values, got {int(bad.sum())} NaN or "
            f"infinite pixels in {len(blends)} blends (the first: blend {blends[0]}); "
            f"float64 values beyond 3.4e38 overflow float32. Replace them, e.g. "
            f"np.nan_to_num(y_pred, nan=0.0, posinf=0.0, neginf=0.0)"
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
        """Deblended images (n, 128, 128, 2) of the trained ``Deblender``, checked."""
        X = native_rows(X_array)  # noqa: N806
        return check_prediction(trained_model.predict(X), len(X))
