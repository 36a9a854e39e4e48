"""A picture of a few predictions: blend, true and deblended images, and the residuals.

``preview_png(X, y_true, y_pred)`` draws one row per blend: the noisy blend, the true
central and companion images, the predicted ones, and the residuals (predicted - true) of
both. Images share one arcsinh stretch in units of the sky noise, so faint outskirts and
bright cores show alike and a prediction is drawn exactly as its truth; residuals are red
where the prediction has too much light and blue where it lacks some.
"""

from __future__ import annotations

import io

import numpy as np

from ramp_kit.constants import NOISE_SIGMA

COLUMNS = (
    "blend",
    "true central",
    "true companion",
    "predicted central",
    "predicted companion",
    "residual central",
    "residual companion",
)
PANEL_INCHES = 1.6
DPI = 60


def stretch(image: np.ndarray) -> np.ndarray:
    """arcsinh of the image in units of the sky noise: linear near the sky, log in cores."""
    return np.arcsinh(np.asarray(image, dtype=np.float32) / np.float32(NOISE_SIGMA))


def preview_png(X: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> bytes:  # noqa: N803
    """PNG bytes of blends (n, H, W), truth and predictions (n, H, W, 2), one row each."""
    # The Figure API draws with Agg whatever the backend: no display needed, and a notebook's
    # own backend is left alone. Imported here: scoring alone never loads matplotlib.
    from matplotlib.figure import Figure

    n_rows = len(X)
    figure = Figure(figsize=(PANEL_INCHES * len(COLUMNS), PANEL_INCHES * n_rows), dpi=DPI)
    axes = figure.subplots(n_rows, len(COLUMNS), squeeze=False)
    for row in range(n_rows):
        blend = stretch(X[row])
        truth, predicted = stretch(y_true[row]), stretch(y_pred[row])
        residual = stretch(np.asarray(y_pred[row], np.float32) - np.asarray(y_true[row]))
        top = float(max(blend.max(), truth.max(), 1.0))
        reach = float(max(np.abs(residual).max(), 1.0))
        panels = (
            (blend, "gray", -1.0, top),
            (truth[..., 0], "gray", -1.0, top),
            (truth[..., 1], "gray", -1.0, top),
            (predicted[..., 0], "gray", -1.0, top),
            (predicted[..., 1], "gray", -1.0, top),
            (residual[..., 0], "RdBu_r", -reach, reach),
            (residual[..., 1], "RdBu_r", -reach, reach),
        )
        for column, (image, colours, low, high) in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(image, cmap=colours, vmin=low, vmax=high, origin="lower")
            axis.set_axis_off()
            if row == 0:
                axis.set_title(COLUMNS[column], fontsize=8)
    figure.tight_layout(pad=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
