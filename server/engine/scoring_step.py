"""Scores and preview of a finished job, computed outside the sandbox from its predictions.

The sandbox never sees a label: it sends uint8 predictions back, and this module checks them
against the public training labels (CV folds) and the hidden labels (public and private halves).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from server.engine.exceptions import InvalidPredictionsError
from server.engine.job import ScoreRow

PREVIEW_BLENDS = 4


def load_predictions(results_dir: Path, name: str, n_expected: int) -> np.ndarray:
    """Predictions sent back by the sandbox as probabilities in [0, 1], after checking them."""
    path = Path(results_dir) / name
    if not path.exists():
        raise InvalidPredictionsError(f"no predictions came back ({name} is missing)")
    try:
        raw = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InvalidPredictionsError(f"{name} is not a readable array: {exc}") from exc
    expected = (n_expected, 128, 128, 2)
    if raw.dtype != np.uint8 or raw.shape != expected:
        raise InvalidPredictionsError(
            f"{name}: expected uint8 predictions of shape {expected}, got {raw.dtype} {raw.shape}"
        )
    return raw.astype(np.float32) / 255.0


def load_indices(results_dir: Path, name: str, n_data: int) -> np.ndarray:
    path = Path(results_dir) / name
    indices = np.load(path, allow_pickle=False) if path.exists() else np.empty(0, dtype=object)
    if indices.dtype != np.int64 or indices.ndim != 1 or len(indices) == 0:
        raise InvalidPredictionsError(f"{name}: expected a 1-d array of row indices")
    if indices.min() < 0 or indices.max() >= n_data:
        raise InvalidPredictionsError(f"{name}: indices outside [0, {n_data})")
    return indices


def score_rows(
    score_types: list, y_true: np.ndarray, y_pred: np.ndarray, split: str, fold: int | None
) -> list[ScoreRow]:
    rows = []
    for score_type in score_types:
        value = float(score_type(y_true, y_pred))
        rows.append(ScoreRow(split=split, fold=fold, metric=score_type.name, value=value))
    return rows


def score_full_job(
    results_dir: Path, n_folds: int, public_data_dir: Path, labels_dir: Path
) -> tuple[list[ScoreRow], bytes]:
    """Train / valid scores per fold, public / private scores of the bagged hidden predictions,
    and the preview PNG of a few validation blends of fold 0."""
    from ramp_kit import problem
    from ramp_kit.io import hidden_halves, read_truth

    X, y = problem.get_train_data(str(public_data_dir))  # noqa: N806 (ramp's naming)
    rows: list[ScoreRow] = []
    for fold in range(n_folds):
        for split in ("train", "valid"):
            indices = load_indices(results_dir, f"fold{fold}_{split}_is.npy", len(X))
            pred = load_predictions(results_dir, f"fold{fold}_{split}_pred.npy", len(indices))
            rows += score_rows(problem.score_types, y[indices], pred, split, fold)
        if fold == 0:
            shown = indices[:PREVIEW_BLENDS]  # validation blends: public data, nothing leaks
            preview = preview_png(X[shown], y[shown], pred[:PREVIEW_BLENDS])
    y_hidden = read_truth(labels_dir)
    hidden_pred = load_predictions(results_dir, "hidden_pred.npy", len(y_hidden))
    for split, half in zip(("public", "private"), hidden_halves(len(y_hidden)), strict=True):
        rows += score_rows(problem.score_types, y_hidden[half], hidden_pred[half], split, None)
    return rows, preview


def preview_png(blends: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> bytes:
    """Blend / true masks / predicted masks for each blend (rows), as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # no display on workers
    from matplotlib.figure import Figure

    from ramp_kit.constants import MASK_THRESHOLD, NOISE_SIGMA

    n = len(blends)
    figure = Figure(figsize=(7.5, 2.5 * n), dpi=60)
    axes = figure.subplots(n, 3, squeeze=False)
    for row in range(n):
        true_rgb = _mask_rgb(np.asarray(y_true[row]) > MASK_THRESHOLD)
        pred_rgb = _mask_rgb(np.asarray(y_pred[row]) > 0.5)
        images = (
            np.arcsinh(np.asarray(blends[row], dtype=np.float32) / NOISE_SIGMA),
            true_rgb,
            pred_rgb,
        )
        for col, (image, title) in enumerate(
            zip(images, ("blend", "true", "predicted"), strict=True)
        ):
            axes[row, col].imshow(image, cmap="gray" if col == 0 else None, origin="lower")
            axes[row, col].set_axis_off()
            if row == 0:
                axes[row, col].set_title(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _mask_rgb(masks: np.ndarray) -> np.ndarray:
    """Central galaxy in red, companion in blue, overlap in magenta."""
    rgb = np.zeros(masks.shape[:2] + (3,), dtype=np.float32)
    rgb[..., 0] = masks[..., 0]
    rgb[..., 2] = masks[..., 1]
    return rgb
