"""The two reference submissions pass ramp-test and learn the classes."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rampwf.utils.testing import assert_submission

SUBMISSIONS = ["starting_kit", "gradient_boosting"]


@pytest.mark.parametrize("submission", SUBMISSIONS)
def test_quick_ramp_test_passes_and_scores_the_test_set(
    submission, kit_dir, release, tmp_path, monkeypatch
):
    monkeypatch.setenv("RAMP_TEST_MODE", "1")  # what ramp-test --quick-test sets
    # A copy, since ramp-workflow writes its outputs into the submission's folder.
    submissions = shutil.copytree(kit_dir / "submissions", tmp_path / "submissions")
    assert_submission(
        ramp_kit_dir=str(kit_dir),
        ramp_data_dir=str(release),
        ramp_submission_dir=str(submissions),
        submission=submission,
        save_output=True,
    )
    bagged = pd.read_csv(submissions / submission / "training_output" / "bagged_scores.csv")
    all_folds = bagged.groupby("step").last()
    assert set(all_folds.index) == {"valid", "test"}
    assert all_folds.loc["test", "balanced_accuracy"] > 0.5  # chance is 1/3


def test_ramp_test_command_runs_the_starting_kit(kit_dir, release):
    ramp_test = Path(sys.executable).with_name("ramp-test")  # the one of this environment
    command = [
        str(ramp_test),
        "--ramp-kit-dir", str(kit_dir),
        "--ramp-data-dir", str(release),
        "--ramp-submission-dir", str(kit_dir / "submissions"),
        "--submission", "starting_kit",
        "--quick-test",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout)
    assert "Bagged scores" in report and "balanced_accuracy" in report


@pytest.mark.parametrize("submission", SUBMISSIONS)
def test_reference_submission_beats_chance_by_a_margin(submission, problem, kit_dir, release):
    X_train, y_train = problem.get_train_data(path=str(release))  # noqa: N806
    X_test, y_test = problem.get_test_data(path=str(release))  # noqa: N806
    trained = problem.workflow.train_submission(
        str(kit_dir / "submissions" / submission), X_train, y_train
    )
    predictions = problem.Predictions(y_pred=problem.workflow.test_submission(trained, X_test))
    truth = problem.Predictions(y_true=y_test)
    balanced_accuracy, accuracy, nll = (
        score.score_function(truth, predictions) for score in problem.score_types
    )
    assert balanced_accuracy > 0.65  # chance is 1/3
    assert accuracy > 0.65
    assert nll < 0.9  # uniform probabilities score ln 3 = 1.10
