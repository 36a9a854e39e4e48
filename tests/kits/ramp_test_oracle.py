"""What ``ramp-test`` gives for a submission, to compare with the server's scores.

``ramp_test_scores`` runs ramp-workflow's own ``assert_submission`` (the code ``ramp-test``
runs) on a data folder that joins the event's public training data with its hidden test set,
and reads back the per-fold scores it writes and the bagged test predictions it saves. The
hidden halves are then scored with ramp-workflow's ``get_score_cv_bags``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from rampwf.utils.combine import get_score_cv_bags
from rampwf.utils.testing import assert_read_problem, assert_submission

from server.engine.scoring_step import hidden_halves
from server.engine.worker import run_job
from tests.job_specs import job_spec

Scores = dict[tuple[str, int | None, str], float]


def server_scores(
    kit_dir: Path,
    public_dir: Path,
    hidden_dir: Path,
    submission_dir: Path,
    split_seed: int,
    scratch: Path,
) -> Scores:
    """(split, fold, metric) -> value as the platform's worker scores the submission."""
    files = {path.name: path.read_bytes() for path in submission_dir.iterdir() if path.is_file()}
    spec = job_spec(
        files,
        kit_dir=kit_dir,
        public_data_dir=public_dir,
        hidden_data_dir=hidden_dir,
        hidden_split_seed=split_seed,
        limits={
            "timeout_seconds": 3600,
            "memory_limit_mb": 12288,
            "max_processes": 512,
            "disk_limit_mb": 1024,
            "output_limit_mb": 8192,
        },
        attempt=0,
    )
    result = run_job(spec, scratch)
    assert result.error_summary is None, (result.error_summary, result.error_traceback)
    return {(row.split, row.fold, row.metric): row.value for row in result.scores}


def joined_data_dir(public_dir: Path, hidden_dir: Path, out: Path) -> Path:
    """A data folder with the public training entries and the hidden test entries (links)."""
    (out / "data").mkdir(parents=True)
    for entry in (public_dir / "data").iterdir():
        source = hidden_dir / "data" / entry.name if entry.name.startswith("test") else entry
        os.symlink(source.resolve(), out / "data" / entry.name)
    return out


def ramp_test_scores(
    kit_dir: Path,
    public_dir: Path,
    hidden_dir: Path,
    submission_dir: Path,
    split_seed: int,
    work_dir: Path,
) -> Scores:
    """(split, fold, metric) -> value as ramp-test computes them, hidden halves included."""
    data_dir = joined_data_dir(public_dir, hidden_dir, work_dir / "data")
    submissions = work_dir / "submissions"
    shutil.copytree(submission_dir, submissions / "candidate")
    assert_submission(
        ramp_kit_dir=str(kit_dir),
        ramp_data_dir=str(data_dir),
        ramp_submission_dir=str(submissions),
        submission="candidate",
        save_output=True,
    )
    problem = assert_read_problem(str(kit_dir))
    output = submissions / "candidate" / "training_output"
    scores: Scores = {}
    test_predictions = []
    fold = 0
    while (output / f"fold_{fold}").is_dir():
        table = pd.read_csv(output / f"fold_{fold}" / "scores.csv", index_col=0)
        for step in ("train", "valid"):
            for score_type in problem.score_types:
                scores[step, fold, score_type.name] = float(table.loc[step, score_type.name])
        with np.load(output / f"fold_{fold}" / "y_pred_test.npz", allow_pickle=True) as saved:
            test_predictions.append(saved["y_pred"])
        fold += 1
    _, y_test = problem.get_test_data(path=str(data_dir))
    for split, rows in zip(
        ("public", "private"), hidden_halves(len(y_test), split_seed), strict=True
    ):
        truth = problem.Predictions(y_true=y_test, fold_is=rows)
        predictions = [problem.Predictions(y_pred=p, fold_is=rows) for p in test_predictions]
        for score_type in problem.score_types:
            _, bagged = get_score_cv_bags(score_type, predictions, truth)
            scores[split, None, score_type.name] = float(bagged[-1])
    return scores
