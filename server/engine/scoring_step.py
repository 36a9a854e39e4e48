"""The trusted half of a job, outside the sandbox: the data going in, the scores coming out.

Before the run it reads the kit's data as ``ramp-test`` does (``get_train_data``, ``get_cv``,
``get_test_data``) and hands the sandbox the folds and the hidden set's inputs only. After the
run it scores the predictions that came back with ramp-workflow's own functions
(``Predictions``, ``score_matrix``, ``get_score_cv_bags``), so every score equals the one
``ramp-test`` prints on the same data: per fold on the training and validation rows, and the
fold-bagged hidden predictions on the public and private halves of the hidden set.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from server.engine.exceptions import EngineError, InvalidPredictionsError
from server.engine.job import ScoreRow

log = logging.getLogger(__name__)

PREVIEW_ITEMS = 4
# Groups of the jackknife that gives each hidden-half score its standard error.
JACKKNIFE_GROUPS = 20


@dataclass
class JobData:
    """What the worker read for one full job, kept for scoring once the sandbox is done."""

    X_train: Any  # noqa: N815 (ramp-workflow's names)
    y_train: Any
    folds: list[tuple[np.ndarray, np.ndarray]]
    y_test: Any
    n_test: int


def read_job_data(
    problem: ModuleType, public_dir: Path, hidden_dir: Path, inputs_dir: Path
) -> JobData:
    """Read the kit's data and write the sandbox's inputs (folds, hidden X) to ``inputs_dir``.

    Whatever fails here is the platform's fault (a worker without the data, a broken kit),
    never the student's: it raises :class:`EngineError`.
    """
    try:
        X_train, y_train = problem.get_train_data(path=str(public_dir))  # noqa: N806
        folds = [
            (np.asarray(train_is, dtype=np.int64), np.asarray(valid_is, dtype=np.int64))
            for train_is, valid_is in problem.get_cv(X_train, y_train)
        ]
        X_test, y_test = problem.get_test_data(path=str(hidden_dir))  # noqa: N806
    except Exception as exc:  # noqa: BLE001 - any failure of the kit's readers
        raise EngineError(
            f"the kit cannot read the event's data on this worker (public {public_dir}, "
            f"hidden {hidden_dir}): {type(exc).__name__}: {exc}"
        ) from exc
    if not folds:
        raise EngineError("the kit's get_cv gave no fold: it should yield (train, valid) pairs")
    arrays = {f"train{i}": train for i, (train, _) in enumerate(folds)}
    arrays |= {f"valid{i}": valid for i, (_, valid) in enumerate(folds)}
    np.savez(inputs_dir / "folds.npz", **arrays)
    if isinstance(X_test, np.ndarray) and X_test.dtype.kind in "biuf":
        np.save(inputs_dir / "X_test.npy", X_test, allow_pickle=False)
    else:  # DataFrames, lists...: pickled by us, for the sandbox (never read back out here)
        with (inputs_dir / "X_test.pkl").open("wb") as out:
            pickle.dump(X_test, out, protocol=pickle.HIGHEST_PROTOCOL)
    return JobData(X_train, y_train, folds, y_test, len(y_test))


def hidden_halves(n_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The public and private halves of a hidden test set, drawn by the event's seed."""
    order = np.random.default_rng(seed).permutation(n_items)
    half = n_items // 2
    return np.sort(order[:half]), np.sort(order[half:])


def load_prediction(results_dir: Path, name: str, n_expected: int) -> Any:
    """A prediction sent back by the sandbox, read without ever unpickling."""
    npy, as_json = results_dir / f"{name}.npy", results_dir / f"{name}.json"
    try:
        if npy.exists():
            # Memory-mapped: a fold's predictions of a large training set are read as sliced.
            y_pred = np.load(npy, mmap_mode="r", allow_pickle=False)
        elif as_json.exists():
            y_pred = np.array(json.loads(as_json.read_text()), dtype=object)
        else:
            raise InvalidPredictionsError(f"no predictions came back for {name}")
    except ValueError as exc:
        raise InvalidPredictionsError(f"{name}: the predictions are not readable: {exc}") from exc
    if len(y_pred) != n_expected:
        raise InvalidPredictionsError(
            f"{name}: expected predictions for {n_expected} items, got {len(y_pred)}"
        )
    return y_pred


def score_full_job(
    problem: ModuleType, data: JobData, results_dir: Path, hidden_split_seed: int
) -> tuple[list[ScoreRow], bytes | None, list[dict] | None]:
    """Score rows (per fold, then the hidden halves), the preview PNG and the diagnostics."""
    from rampwf.utils.scoring import score_matrix

    score_types = problem.score_types
    rows: list[ScoreRow] = []
    test_predictions = []
    preview = None
    for fold, (train_is, valid_is) in enumerate(data.folds):
        y_pred_train = load_prediction(results_dir, f"fold{fold}_train", len(data.y_train))
        y_pred_test = load_prediction(results_dir, f"fold{fold}_test", data.n_test)
        # As ramp-workflow's run_submission_on_cv_fold builds them.
        steps = {"train": train_is, "valid": valid_is}
        try:
            ground_truth = OrderedDict(
                (s, problem.Predictions(y_true=data.y_train, fold_is=i)) for s, i in steps.items()
            )
            predictions = OrderedDict(
                (s, problem.Predictions(y_pred=y_pred_train, fold_is=i)) for s, i in steps.items()
            )
            table = score_matrix(score_types, ground_truth, predictions)
            test_predictions.append(problem.Predictions(y_pred=y_pred_test))
        except (ValueError, TypeError, IndexError) as exc:
            raise InvalidPredictionsError(f"the predictions do not fit the kit: {exc}") from exc
        for step in steps:
            rows += [
                ScoreRow(step, fold, st.name, float(table.loc[step, st.name]))
                for st in score_types
            ]
        if fold == 0:
            preview = _preview(problem, data, valid_is[:PREVIEW_ITEMS], y_pred_train)
    public_is, private_is = hidden_halves(data.n_test, hidden_split_seed)
    diagnostics = None
    for split, half in (("public", public_is), ("private", private_is)):
        bagged = bagged_predictions(problem, data.y_test, test_predictions, half)
        ground_truth = problem.Predictions(y_true=data.y_test, fold_is=half)
        for score_type in score_types:
            value = float(score_type.score_function(ground_truth, bagged))
            error = jackknife_error(problem, score_type, data.y_test, half, bagged)
            rows.append(ScoreRow(split, None, score_type.name, value, error))
        if split == "public":
            diagnostics = _diagnostics(problem, ground_truth.y_pred, bagged.y_pred)
    return rows, preview, diagnostics


def bagged_predictions(
    problem: ModuleType, y_test: Any, fold_predictions: list, rows: np.ndarray | None = None
) -> Any:
    """The folds' test predictions combined as ramp-workflow bags them, on ``rows``."""
    from rampwf.utils.combine import get_score_cv_bags

    ground_truth = problem.Predictions(y_true=y_test, fold_is=rows)
    selected = [
        p if rows is None else problem.Predictions(y_pred=p.y_pred, fold_is=rows)
        for p in fold_predictions
    ]
    combined, _ = get_score_cv_bags(problem.score_types[0], selected, ground_truth)
    return combined


def jackknife_error(
    problem: ModuleType, score_type: Any, y_test: Any, rows: np.ndarray, predictions: Any
) -> float | None:
    """Standard error of a score on ``rows`` by the grouped (delete-a-group) jackknife.

    Works for any score type, means or not, at ``JACKKNIFE_GROUPS`` extra evaluations;
    ``predictions`` are already restricted to ``rows``.
    """
    groups = min(JACKKNIFE_GROUPS, len(rows))
    if groups < 2:
        return None
    chunks = np.array_split(np.random.default_rng(0).permutation(len(rows)), groups)
    values = []
    for chunk in chunks:
        keep = np.setdiff1d(np.arange(len(rows)), chunk)
        truth = problem.Predictions(y_true=y_test, fold_is=rows[keep])
        predicted = problem.Predictions(y_pred=predictions.y_pred, fold_is=keep)
        values.append(score_type.score_function(truth, predicted))
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        return None
    return float(np.sqrt((groups - 1) / groups * np.sum((values - values.mean()) ** 2)))


def take(data: Any, rows: np.ndarray) -> Any:
    """Rows of whatever a kit's data reader returns: arrays, DataFrames, lists."""
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    if isinstance(data, np.ndarray):
        return data[rows]
    return [data[i] for i in rows]


def _preview(problem: ModuleType, data: JobData, rows: np.ndarray, y_pred: Any) -> bytes | None:
    hook = getattr(problem, "preview_png", None)
    if hook is None or len(rows) == 0:
        return None
    try:  # validation rows of the public data: nothing hidden is shown
        return bytes(hook(take(data.X_train, rows), take(data.y_train, rows), y_pred[rows]))
    except Exception:  # noqa: BLE001 - a broken picture must not fail a scored submission
        log.exception("the kit's preview_png failed")
        return None


def _diagnostics(problem: ModuleType, y_true: Any, y_pred: Any) -> list[dict] | None:
    hook = getattr(problem, "diagnostics", None)
    if hook is None:
        return None
    try:
        breakdowns = json.loads(json.dumps(hook(y_true, y_pred), default=float))
        for item in breakdowns:
            if not {"title", "bins", "values", "counts"} <= set(item):
                raise ValueError(f"a breakdown needs title, bins, values, counts: got {item}")
        return breakdowns
    except Exception:  # noqa: BLE001 - diagnostics are extras; the scores stand without them
        log.exception("the kit's diagnostics failed")
        return None
