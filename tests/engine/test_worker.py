"""run_job end to end on tiny data: outcomes, scores, tracebacks, log streaming, clean-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ramp_kit.constants import MASK_THRESHOLD
from ramp_kit.io import hidden_halves, read_truth
from server.engine.exceptions import EngineError
from server.engine.job import JobKind, JobOutcome, JobSpec
from server.engine.worker import run_job

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

# Every pixel belongs to the central galaxy, none to the companion.
ALL_CENTRAL = """
import numpy as np

class Deblender:
    def fit(self, blends, truth):
        print("fitting on", len(blends), "blends", flush=True)
        return self

    def predict(self, blends):
        proba = np.zeros((len(blends), 128, 128, 2), dtype=np.float32)
        proba[..., 0] = 1.0
        return proba
"""

RAISES_IN_FIT = """
import numpy as np

def helper(blends):
    return len(blends) / 0

class Deblender:
    def fit(self, blends, truth):
        helper(blends)

    def predict(self, blends):
        return np.zeros((len(blends), 128, 128, 2))
"""


def predicting(expression: str) -> str:
    """A submission whose predict returns ``expression`` (of ``blends``)."""
    return (
        "import numpy as np\n\nclass Deblender:\n    def fit(self, blends, truth):\n"
        f"        return self\n\n    def predict(self, blends):\n        return {expression}\n"
    )


def all_central_iou(truth: np.ndarray) -> float:
    """IoU of an all-True mask with each true mask is |T| / |all|: its mean fraction of pixels."""
    return float(np.mean(np.asarray(truth[..., 0]) > MASK_THRESHOLD, axis=(1, 2)).mean())


def test_run_job_full_scores_every_fold_and_split(
    make_spec: Callable[..., JobSpec], tmp_path: Path, hidden_dir: Path
) -> None:
    result = run_job(make_spec(ALL_CENTRAL, n_folds=2), tmp_path)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    keys = {(row.split, row.fold) for row in result.scores}
    expected = {("train", 0), ("valid", 0), ("train", 1), ("valid", 1)}
    assert keys == expected | {("public", None), ("private", None)}
    assert result.scores[0].metric == "central_iou"
    truth = read_truth(hidden_dir / "labels")
    public, private = hidden_halves(len(truth))
    by_key = {(row.split, row.metric): row.value for row in result.scores}
    assert by_key["public", "central_iou"] == pytest.approx(all_central_iou(truth[public]))
    assert by_key["private", "central_iou"] == pytest.approx(all_central_iou(truth[private]))
    assert result.preview_png is not None and result.preview_png.startswith(b"\x89PNG")
    assert result.train_seconds is not None and result.test_seconds is not None
    assert result.peak_memory_mb is not None and result.peak_memory_mb > 10
    assert result.error_summary is None and result.error_traceback is None


def test_run_job_quick_check_succeeds_without_scores(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    result = run_job(make_spec(ALL_CENTRAL, kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    assert result.scores == []
    assert "fitting on 8 blends" in result.log_tail


def test_run_job_keeps_only_the_students_traceback(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    result = run_job(make_spec(RAISES_IN_FIT, kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert result.error_summary == "ZeroDivisionError: division by zero"
    traceback = result.error_traceback or ""
    assert 'File "/submission/deblender.py", line 9, in fit' in traceback
    assert 'File "/submission/deblender.py", line 5, in helper' in traceback
    for platform in ("sandbox_entry", "ramp_kit", "rampwf", str(Path.cwd()), str(tmp_path)):
        assert platform not in traceback


def test_run_job_reports_a_syntax_error(make_spec: Callable[..., JobSpec], tmp_path: Path) -> None:
    result = run_job(make_spec("def broken(:\n", kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert "SyntaxError" in (result.error_summary or "")
    assert "/submission/deblender.py" in (result.error_traceback or "")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("np.zeros((len(blends), 128, 128))", "shape"),
        ("np.full((len(blends), 128, 128, 2), np.nan)", "finite"),
        ("np.full((len(blends), 128, 128, 2), 2.0)", "[0, 1]"),
    ],
)
def test_run_job_refuses_invalid_predictions(
    make_spec: Callable[..., JobSpec], tmp_path: Path, expression: str, message: str
) -> None:
    result = run_job(make_spec(predicting(expression), kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert message in (result.error_summary or "")


def test_run_job_without_deblender_fails(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    spec = make_spec(ALL_CENTRAL)
    spec = JobSpec(**{**spec.__dict__, "files": {"helpers.py": b"x = 1\n"}})
    result = run_job(spec, tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert result.error_summary == "deblender.py is missing: got ['helpers.py']"


def test_run_job_streams_output_to_the_log_sink(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    chunks: list[str] = []
    run_job(make_spec(ALL_CENTRAL, kind=JobKind.QUICK_CHECK), tmp_path, log_sink=chunks.append)
    assert "fitting on 8 blends" in "".join(chunks)


def test_run_job_removes_its_scratch_folder(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    run_job(make_spec(RAISES_IN_FIT, kind=JobKind.QUICK_CHECK), tmp_path / "scratch")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_run_job_raises_engine_error_for_missing_data(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    spec = make_spec(ALL_CENTRAL, public_data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(EngineError, match="nowhere is missing on this worker"):
        run_job(spec, tmp_path / "scratch")
    assert list((tmp_path / "scratch").iterdir()) == []
