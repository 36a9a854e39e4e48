"""run_job end to end on a small public-style kit: outcomes, scores, tracebacks, logs, clean-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from server.engine.exceptions import EngineError
from server.engine.job import JobKind, JobOutcome, JobSpec
from server.engine.worker import run_job
from tests.kits.public_kit import SUBMISSIONS

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

PRINTS_IN_FIT = """
from sklearn.dummy import DummyClassifier


class Loud(DummyClassifier):
    def fit(self, X, y):
        print("fitting on", len(X), "rows", flush=True)
        return super().fit(X, y)


def get_estimator():
    return Loud(strategy="prior")
"""

RAISES_IN_FIT = """
from sklearn.dummy import DummyClassifier


def helper(X):
    return len(X) / 0


class Broken(DummyClassifier):
    def fit(self, X, y):
        helper(X)


def get_estimator():
    return Broken()
"""

# predict_proba with two columns where the kit has three classes.
WRONG_SHAPE = """
import numpy as np
from sklearn.dummy import DummyClassifier


class TwoColumns(DummyClassifier):
    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


def get_estimator():
    return TwoColumns()
"""


def test_run_job_full_scores_every_fold_and_both_halves(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    result = run_job(make_spec(SUBMISSIONS["logistic"]), tmp_path)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    keys = {(row.split, row.fold) for row in result.scores}
    expected = {("train", 0), ("valid", 0), ("train", 1), ("valid", 1)}
    assert keys == expected | {("public", None), ("private", None)}
    # The kit's score types, in its order: the first is the official one.
    assert [row.metric for row in result.scores[:4]] == ["acc", "error", "nll", "f1_70"]
    hidden = [row for row in result.scores if row.split in ("public", "private")]
    assert all(row.std_error is not None and row.std_error >= 0 for row in hidden)
    public_acc = next(r.value for r in hidden if (r.split, r.metric) == ("public", "acc"))
    assert public_acc > 0.8  # a scaled logistic regression separates iris
    assert result.train_seconds is not None and result.test_seconds is not None
    assert result.peak_memory_mb is not None and result.peak_memory_mb > 10
    assert result.error_summary is None and result.error_traceback is None


def test_run_job_quick_check_succeeds_without_scores(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    result = run_job(make_spec(PRINTS_IN_FIT, kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    assert result.scores == []
    assert "fitting on 72 rows" in result.log_tail  # the first fold's 80 % of 90 rows


def test_run_job_keeps_only_the_students_traceback(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    result = run_job(make_spec(RAISES_IN_FIT, kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert result.error_summary == "ZeroDivisionError: division by zero"
    traceback = result.error_traceback or ""
    assert 'File "/submission/estimator.py", line 11, in fit' in traceback
    assert 'File "/submission/estimator.py", line 6, in helper' in traceback
    for platform in ("sandbox_entry", "rampwf", "sklearn", str(Path.cwd()), str(tmp_path)):
        assert platform not in traceback


def test_run_job_reports_a_syntax_error(make_spec: Callable[..., JobSpec], tmp_path: Path) -> None:
    result = run_job(make_spec("def broken(:\n", kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert "SyntaxError" in (result.error_summary or "")


def test_run_job_refuses_predictions_that_do_not_fit_the_kit(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    result = run_job(make_spec(WRONG_SHAPE), tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert "the predictions do not fit the kit" in (result.error_summary or "")


def test_run_job_without_the_element_file_fails(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    spec = make_spec(PRINTS_IN_FIT, kind=JobKind.QUICK_CHECK, files={"helpers.py": b"x = 1\n"})
    result = run_job(spec, tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert "estimator.py" in (result.error_summary or "")


def test_run_job_streams_output_to_the_log_sink(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    chunks: list[str] = []
    spec = make_spec(PRINTS_IN_FIT, kind=JobKind.QUICK_CHECK)
    run_job(spec, tmp_path, log_sink=chunks.append)
    assert "fitting on 72 rows" in "".join(chunks)


def test_run_job_removes_its_scratch_folder(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    run_job(make_spec(RAISES_IN_FIT, kind=JobKind.QUICK_CHECK), tmp_path / "scratch")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_run_job_raises_engine_error_for_missing_data(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    spec = make_spec(SUBMISSIONS["logistic"], public_data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(EngineError, match="nowhere"):
        run_job(spec, tmp_path / "scratch")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_run_job_raises_engine_error_for_a_missing_kit(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    spec = make_spec(SUBMISSIONS["logistic"], kit_dir=str(tmp_path / "no-kit"))
    with pytest.raises(EngineError, match="cannot read the kit"):
        run_job(spec, tmp_path / "scratch")
