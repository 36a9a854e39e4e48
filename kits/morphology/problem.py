"""Galaxy morphology: classify simulated galaxies from their measured features.

A ramp-workflow kit: ``ramp-test --ramp-kit-dir . --ramp-data-dir . --submission starting_kit``
reads this module. Data: ``<path>/data/train.csv`` and ``<path>/data/test.csv`` (made by
``prepare_data.py``), one galaxy a row, the features and the class in ``morphology``. With
``RAMP_TEST_MODE`` set (``ramp-test --quick-test``) only the first rows are used.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import rampwf as rw
from sklearn.model_selection import StratifiedShuffleSplit

problem_title = "Galaxy morphology: elliptical, disk or irregular?"

# Alphabetical: the order of a scikit-learn classifier's classes_ and so of its predict_proba
# columns.
_LABEL_NAMES = ["disk", "elliptical", "irregular"]
_TARGET_COLUMN = "morphology"
_QUICK_TEST_ROWS = {"train": 150, "test": 60}
_CV_SEED = 57

Predictions = rw.prediction_types.make_multiclass(label_names=_LABEL_NAMES)
workflow = rw.workflows.Estimator()
score_types = [
    # The official score: the mean over the classes of the fraction of each class found, so that
    # the rarer irregulars weigh as much as the common disks. Chance level is 1/3.
    rw.score_types.BalancedAccuracy(name="balanced_accuracy", precision=3, adjusted=False),
    rw.score_types.Accuracy(name="accuracy", precision=3),
    rw.score_types.NegativeLogLikelihood(name="nll", precision=3),
]


def get_cv(X, y):  # noqa: N803 (ramp-workflow's signature)
    """Five stratified 80/20 shuffles, the same for every submission."""
    cv = StratifiedShuffleSplit(n_splits=5, test_size=0.2, random_state=_CV_SEED)
    return cv.split(X, y)


def _read_data(path, split):
    csv = Path(path) / "data" / f"{split}.csv"
    if not csv.is_file():
        raise FileNotFoundError(
            f"expected the {split} set at {csv}, found nothing: make the data with "
            f"`python prepare_data.py --out {path}` from the kit folder, or pass the folder "
            "that holds data/ as --ramp-data-dir."
        )
    data = pd.read_csv(csv)
    if os.environ.get("RAMP_TEST_MODE"):
        data = data.iloc[: _QUICK_TEST_ROWS[split]]
    unknown = sorted(set(data[_TARGET_COLUMN]) - set(_LABEL_NAMES))
    if unknown:
        raise ValueError(f"{csv}: expected classes among {_LABEL_NAMES}, got also {unknown}.")
    X = data.drop(columns=[_TARGET_COLUMN])  # noqa: N806 (the usual name of a feature table)
    return X, data[_TARGET_COLUMN].to_numpy()


def get_train_data(path="."):
    """The training galaxies: features (DataFrame) and classes (array of strings)."""
    return _read_data(path, "train")


def get_test_data(path="."):
    """The test galaxies, as ``get_train_data``."""
    return _read_data(path, "test")


def _per_class(title, score, fractions, counts):
    present = counts > 0
    return {
        "title": title,
        "score": score,
        "bins": [name for name, keep in zip(_LABEL_NAMES, present, strict=True) if keep],
        "values": [float(value) for value in fractions[present]],
        "counts": [int(count) for count in counts[present]],
    }


def diagnostics(y_true, y_pred):
    """Per-class breakdowns of one set of predictions, for the submission's page.

    ``y_true`` is the one-hot truth and ``y_pred`` the predicted probabilities (n, 3), the
    ``y_pred`` arrays of ``Predictions``. A class with no galaxy (or no prediction) is left out.
    """
    true_index = np.argmax(np.asarray(y_true), axis=1)
    pred_index = np.argmax(np.asarray(y_pred), axis=1)
    n_classes = len(_LABEL_NAMES)
    correct = true_index == pred_index
    true_counts = np.bincount(true_index, minlength=n_classes)
    pred_counts = np.bincount(pred_index, minlength=n_classes)
    hits_by_true = np.bincount(true_index, weights=correct, minlength=n_classes)
    hits_by_pred = np.bincount(pred_index, weights=correct, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = hits_by_true / true_counts
        precision = hits_by_pred / pred_counts
    return [
        _per_class("Accuracy per true class (recall)", "recall", recall, true_counts),
        _per_class(
            "Accuracy per predicted class (precision)", "precision", precision, pred_counts
        ),
    ]
