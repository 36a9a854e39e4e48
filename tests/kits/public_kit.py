"""A kit written the way public RAMP kits are (the ramp-kits ``iris`` kit's layout): a stock
``problem.py`` (``rw.workflows.Estimator``, ``make_multiclass``, ramp-workflow's score types,
a seeded scikit-learn CV, CSV readers), ``data/train.csv`` and ``data/test.csv`` inside the kit,
and scikit-learn submissions. The platform must host it unchanged.

The data is scikit-learn's bundled iris table: nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PROBLEM = """\
import os

import pandas as pd
import rampwf as rw
from sklearn.model_selection import StratifiedShuffleSplit

problem_title = "Iris classification"
_target_column_name = "species"
_prediction_label_names = ["setosa", "versicolor", "virginica"]
Predictions = rw.prediction_types.make_multiclass(label_names=_prediction_label_names)
workflow = rw.workflows.Estimator()

score_types = [
    rw.score_types.Accuracy(name="acc"),
    rw.score_types.ClassificationError(name="error"),
    rw.score_types.NegativeLogLikelihood(name="nll"),
    rw.score_types.F1Above(name="f1_70", threshold=0.7),
]


def get_cv(X, y):
    cv = StratifiedShuffleSplit(n_splits=2, test_size=0.2, random_state=57)
    return cv.split(X, y)


def _read_data(path, f_name):
    data = pd.read_csv(os.path.join(path, "data", f_name))
    y_array = data[_target_column_name].values
    X_array = data.drop([_target_column_name], axis=1)
    return X_array, y_array


def get_train_data(path="."):
    return _read_data(path, "train.csv")


def get_test_data(path="."):
    return _read_data(path, "test.csv")
"""

SUBMISSIONS = {
    "starting_kit": """\
from sklearn.ensemble import RandomForestClassifier


def get_estimator():
    return RandomForestClassifier(n_estimators=10, max_leaf_nodes=10, random_state=61)
""",
    "logistic": """\
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def get_estimator():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
""",
}
ELEMENT_FILE = "estimator.py"


def iris_table() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    table = iris.frame.rename(columns={"target": "species"})
    table["species"] = np.asarray(iris.target_names)[iris.target]
    return table.sample(frac=1.0, random_state=0).reset_index(drop=True)


def write_public_kit(kit_dir: Path, hidden_dir: Path) -> None:
    """The kit with its public data (90 train, 30 test rows) and a hidden set of 30 rows."""
    table = iris_table()
    (kit_dir / "data").mkdir(parents=True)
    (kit_dir / "problem.py").write_text(PROBLEM)
    (kit_dir / "README.md").write_text("# Iris\n\nClassify iris flowers from four measurements.\n")
    table.iloc[:90].to_csv(kit_dir / "data" / "train.csv", index=False)
    table.iloc[90:120].to_csv(kit_dir / "data" / "test.csv", index=False)
    for name, source in SUBMISSIONS.items():
        (kit_dir / "submissions" / name).mkdir(parents=True)
        (kit_dir / "submissions" / name / ELEMENT_FILE).write_text(source)
    (hidden_dir / "data").mkdir(parents=True)
    table.iloc[120:].to_csv(hidden_dir / "data" / "test.csv", index=False)
    for path in [kit_dir, *kit_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the sandbox's uid reads the kit
    hidden_dir.chmod(0o700)  # as on a server: only the worker reads the hidden set
