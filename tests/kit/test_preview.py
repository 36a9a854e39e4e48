"""The preview picture: one row per blend, drawn without a display."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
from matplotlib.image import imread

from ramp_kit.preview import COLUMNS, DPI, PANEL_INCHES, preview_png


def blends(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    y_true = rng.random((n, 128, 128, 2), dtype=np.float32)
    y_pred = y_true * np.float32(0.9)
    X = y_true.sum(axis=-1) + rng.normal(0, 0.01, (n, 128, 128)).astype(np.float32)  # noqa: N806
    return X, y_true, y_pred


def picture(X: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:  # noqa: N803
    png = preview_png(X, y_true, y_pred)
    assert png.startswith(b"\x89PNG")
    return imread(io.BytesIO(png))


def test_preview_one_row_per_blend() -> None:
    panel = round(PANEL_INCHES * DPI)
    assert picture(*blends(1)).shape[:2] == (panel, panel * len(COLUMNS))
    assert picture(*blends(3)).shape[:2] == (3 * panel, panel * len(COLUMNS))


def test_preview_reads_memory_map_layouts() -> None:
    # X and the truth as get_train_data returns them: big-endian, truth transposed.
    X, y_true, y_pred = blends(2)  # noqa: N806
    truth = np.ascontiguousarray(y_true.transpose(0, 3, 1, 2)).astype(">f4")
    image = picture(X.astype(">f4"), truth.transpose(0, 2, 3, 1), y_pred)
    assert image.shape[0] == 2 * round(PANEL_INCHES * DPI)


def test_preview_leaves_the_matplotlib_backend_alone() -> None:
    backend = matplotlib.get_backend()
    preview_png(*blends(1))
    assert matplotlib.get_backend() == backend
