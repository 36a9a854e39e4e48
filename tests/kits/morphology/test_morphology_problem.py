"""problem.py: a stock ramp-workflow kit, its data readers, splits, scores and diagnostics."""

import ast

import numpy as np
import pandas as pd
import pytest
from morph_features import FEATURES
from morph_sim import CLASSES

PUBLIC_PACKAGES = {"os", "pathlib", "numpy", "pandas", "rampwf", "sklearn"}


def one_hot(indices, n_classes=3):
    return np.eye(n_classes)[indices]


def test_problem_imports_nothing_from_this_repository(kit_dir):
    tree = ast.parse((kit_dir / "problem.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert {name.split(".")[0] for name in imported} <= PUBLIC_PACKAGES


def test_problem_is_a_stock_multiclass_kit(problem):
    assert problem.workflow.element_names == ["estimator"]
    # The columns of predict_proba follow scikit-learn's sorted classes_.
    assert problem.Predictions.label_names == sorted(CLASSES)
    assert [score.name for score in problem.score_types] == [
        "balanced_accuracy",
        "accuracy",
        "nll",
    ]


def test_train_data_is_the_feature_table_and_the_classes(problem, release, release_sizes):
    X, y = problem.get_train_data(path=str(release))  # noqa: N806
    assert isinstance(X, pd.DataFrame) and list(X.columns) == list(FEATURES)
    assert len(X) == len(y) == release_sizes["train"]
    assert set(y) <= set(CLASSES)
    X_test, y_test = problem.get_test_data(path=str(release))  # noqa: N806
    assert len(X_test) == len(y_test) == release_sizes["test"]


def test_quick_test_mode_reads_the_first_rows(problem, release, monkeypatch):
    X_full, y_full = problem.get_train_data(path=str(release))  # noqa: N806
    monkeypatch.setenv("RAMP_TEST_MODE", "1")
    X_quick, y_quick = problem.get_train_data(path=str(release))  # noqa: N806
    assert 0 < len(X_quick) < len(X_full)
    pd.testing.assert_frame_equal(X_quick, X_full.head(len(X_quick)))
    np.testing.assert_array_equal(y_quick, y_full[: len(y_quick)])


def test_missing_data_says_how_to_make_it(problem, tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare_data.py"):
        problem.get_train_data(path=str(tmp_path))


def test_unknown_class_is_refused(problem, tmp_path):
    (tmp_path / "data").mkdir()
    pd.DataFrame({"gini": [0.5], "morphology": ["spiral"]}).to_csv(
        tmp_path / "data" / "test.csv", index=False
    )
    with pytest.raises(ValueError, match="got also \\['spiral'\\]"):
        problem.get_test_data(path=str(tmp_path))


def test_cv_is_five_fixed_stratified_splits(problem, release):
    X, y = problem.get_train_data(path=str(release))  # noqa: N806
    folds = list(problem.get_cv(X, y))
    again = list(problem.get_cv(X, y))
    assert len(folds) == 5
    for (train, valid), (_, valid_again) in zip(folds, again, strict=True):
        np.testing.assert_array_equal(valid, valid_again)
        assert len(valid) == round(0.2 * len(y)) and not set(train) & set(valid)
        for label in CLASSES:  # each class keeps its share of the galaxies, to one galaxy
            assert abs(np.sum(y[valid] == label) - np.mean(y == label) * len(valid)) <= 1


def test_diagnostics_worked_by_hand(problem):
    # truth:      disk, disk,       elliptical, irregular
    # prediction: disk, elliptical, elliptical, disk
    # recall: disk 1/2, elliptical 1/1, irregular 0/1
    # precision: disk 1/2 (two predicted), elliptical 1/2 (two predicted), irregular never
    # predicted, so left out.
    y_true = one_hot([0, 0, 1, 2])
    y_pred = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4]])
    recall, precision = problem.diagnostics(y_true, y_pred)
    assert recall == {
        "title": "Accuracy per true class (recall)",
        "score": "recall",
        "bins": ["disk", "elliptical", "irregular"],
        "values": [1 / 2, 1.0, 0.0],
        "counts": [2, 1, 1],
    }
    assert precision["bins"] == ["disk", "elliptical"]
    assert precision["values"] == [1 / 2, 1 / 2]
    assert precision["counts"] == [2, 2]


def test_diagnostics_of_perfect_predictions_leave_out_an_absent_class(problem):
    y_true = one_hot([2, 0, 2])
    recall, precision = problem.diagnostics(y_true, y_true * 0.9 + 0.05)
    assert recall["bins"] == precision["bins"] == ["disk", "irregular"]
    assert recall["values"] == precision["values"] == [1.0, 1.0]
    assert recall["counts"] == [1, 2]
    assert all(type(value) is float for value in recall["values"])
    assert all(type(count) is int for count in recall["counts"])
