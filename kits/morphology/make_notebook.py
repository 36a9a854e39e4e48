"""Build ``morphology_starting_kit.ipynb`` from the cells below (``python make_notebook.py``).

The notebook is kept as Python source so that changes are reviewed as text; the ``.ipynb`` is
written without outputs and executed by the tests on a tiny dataset.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOK = Path(__file__).with_name("morphology_starting_kit.ipynb")

CELLS = [
    (
        "md",
        """# Galaxy morphology with classical machine learning: starting kit

Astronomers sort galaxies by shape: smooth, concentrated **ellipticals**, flattened **disks**
(spirals, often with a bulge and star-forming knots) and clumpy, lopsided **irregulars**. Before
deep learning, surveys classified millions of galaxies from a few *non-parametric*
measurements of their images: concentration, asymmetry, smoothness (the CAS system), the Gini
coefficient and M20, the ellipticity and the sizes.

Here every galaxy is simulated with GalSim as the Hubble Space Telescope sees it in the F160W
band, then measured. Your task: predict the class of each galaxy from its measurements.

| score | meaning | better |
| --- | --- | --- |
| `balanced_accuracy` (**official**) | mean recall over the classes; chance is 1/3 | higher |
| `accuracy` | fraction of galaxies correctly classified | higher |
| `nll` | negative log-likelihood of the predicted probabilities | lower |""",
    ),
    (
        "code",
        """import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rampwf
from sklearn.metrics import ConfusionMatrixDisplay

KIT = Path(".").resolve()  # the notebook lives in the kit folder, next to problem.py
# The folder holding data/train.csv and data/test.csv (`python prepare_data.py --out DIR`).
DATA_DIR = Path(os.environ.get("MORPHOLOGY_DATA_DIR", KIT)).resolve()
print("data:", DATA_DIR / "data")""",
    ),
    (
        "md",
        """## Loading the data

`problem.py` describes the challenge for `ramp-workflow`: how to read the data, the classes,
the scores and the cross-validation splits. `X` is a pandas DataFrame of features, one galaxy a
row; `y` the classes.""",
    ),
    (
        "code",
        """problem = rampwf.utils.assert_read_problem(str(KIT))
X_train, y_train = problem.get_train_data(path=str(DATA_DIR))
X_test, y_test = problem.get_test_data(path=str(DATA_DIR))
print(f"train: X {X_train.shape}, test: X {X_test.shape}")
print("classes:", problem.Predictions.label_names)
print("score types:", [score.name for score in problem.score_types])
pd.Series(y_train).value_counts()""",
    ),
    (
        "code",
        """X_train.describe().T""",
    ),
    (
        "md",
        """## The classes in the planes astronomers use

Ellipticals are concentrated and symmetric; irregulars asymmetric, with their brightest light
in off-centre clumps (a high M20); disks lie in between. The Gini-M20 plane (Lotz et al. 2004)
and the concentration-asymmetry plane (Conselice 2003) separate them well, but not perfectly:
bulge-dominated disks look like ellipticals, knotty disks like irregulars, and small, faint
galaxies of every class are blurred by the telescope's point-spread function.""",
    ),
    (
        "code",
        """colours = {"disk": "tab:blue", "elliptical": "tab:red", "irregular": "tab:green"}
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for label, colour in colours.items():
    chosen = y_train == label
    axes[0].scatter(X_train.m20[chosen], X_train.gini[chosen], s=4, c=colour, label=label)
    axes[1].scatter(
        X_train.asymmetry[chosen], X_train.concentration[chosen], s=4, c=colour, label=label
    )
axes[0].set(xlabel="M20", ylabel="Gini", title="Gini-M20")
axes[0].invert_xaxis()  # the astronomers' convention
axes[1].set(xlabel="asymmetry", ylabel="concentration", title="concentration-asymmetry")
axes[1].set_xscale("symlog", linthresh=0.05)  # linear near zero, logarithmic beyond
ticks = [0, 0.05, 0.1, 0.2, 0.5, 1]
axes[1].set_xticks(ticks, labels=[str(tick) for tick in ticks])
axes[0].legend(markerscale=3)
fig.tight_layout()""",
    ),
    (
        "code",
        """features = list(X_train.columns)
fig, axes = plt.subplots(3, 4, figsize=(16, 10))
for feature, ax in zip(features, axes.flat):
    low, high = np.percentile(X_train[feature], [1, 99])
    for label, colour in colours.items():
        ax.hist(
            X_train[feature][y_train == label], bins=40, range=(low, high), histtype="step",
            density=True, color=colour, label=label,
        )
    ax.set_title(feature)
axes.flat[0].legend()
fig.tight_layout()""",
    ),
    (
        "md",
        """## Two example submissions

A submission is a file `submissions/<name>/estimator.py` with a function `get_estimator()`
returning a scikit-learn estimator (here `rampwf.workflows.Estimator`). The platform calls its
`fit(X, y)` and then `predict_proba(X)`, whose columns are the classes in alphabetical order.

- `starting_kit`: a logistic regression on standardised features;
- `gradient_boosting`: gradient-boosted decision trees.

The cell below trains both on the training set and scores them on the test set, with the
same functions `ramp-test` uses.""",
    ),
    (
        "code",
        """def train_and_predict(name):
    \"\"\"Train submissions/<name> on the training set; its probabilities on the test set.\"\"\"
    folder = str(KIT / "submissions" / name)
    trained = problem.workflow.train_submission(folder, X_train, y_train)
    return problem.Predictions(y_pred=problem.workflow.test_submission(trained, X_test))


truth = problem.Predictions(y_true=y_test)
predictions = {name: train_and_predict(name) for name in ["starting_kit", "gradient_boosting"]}
scores = {
    name: {score.name: score.score_function(truth, pred) for score in problem.score_types}
    for name, pred in predictions.items()
}
pd.DataFrame(scores).T""",
    ),
    (
        "md",
        """Which galaxies are confused? The confusion matrix counts, for each true class (rows),
the predicted classes (columns).""",
    ),
    (
        "code",
        """labels = problem.Predictions.label_names
best = predictions["gradient_boosting"]
ConfusionMatrixDisplay.from_predictions(
    truth.y_pred_label_index, best.y_pred_label_index, display_labels=labels,
    labels=range(len(labels)),
)
for breakdown in problem.diagnostics(truth.y_pred, best.y_pred):
    values = [round(value, 3) for value in breakdown["values"]]
    print(breakdown["title"], dict(zip(breakdown["bins"], values)))""",
    ),
    (
        "md",
        """## Testing a submission locally with `ramp-test`

Before submitting, check that your `estimator.py` trains and predicts with the same program the
server runs. From the kit folder:

```bash
ramp-test --submission my_model --quick-test
```

`--quick-test` uses a few galaxies: it checks the code in seconds. Drop it to train and score
on all the data, with the server's five cross-validation splits. The cell below runs it on the
starting kit.""",
    ),
    (
        "code",
        """ramp_test = Path(sys.executable).with_name("ramp-test")  # the one next to this Python
command = [
    str(ramp_test),
    "--ramp-kit-dir", str(KIT),
    "--ramp-data-dir", str(DATA_DIR),
    "--ramp-submission-dir", str(KIT / "submissions"),
    "--submission", "starting_kit",
    "--quick-test",
]
run = subprocess.run(command, capture_output=True, text=True)
report = re.sub(r"\\x1b\\[[0-9;]*m", "", run.stdout)  # drop the terminal colour codes
print(report[report.find("Bagged scores") :] if run.returncode == 0 else report + run.stderr)
print("ramp-test exit code:", run.returncode)""",
    ),
    (
        "md",
        """## Submitting

1. `mkdir submissions/my_model` and copy an example's `estimator.py` into it; edit it (keep the
   function `get_estimator()`; imports: numpy, scipy, pandas, scikit-learn).
2. Run `ramp-test --submission my_model --quick-test`, then without `--quick-test`.
3. On the event page, *Submit*: name your submission and upload `estimator.py`.
4. The server trains it and scores it on a hidden test set: the leaderboard shows the public
   half, the final ranking uses the private half.

Ideas: new features (ratios, logarithms, the Gini-M20 bulge statistic), other classifiers
(random forests, support vector machines, k nearest neighbours), hyper-parameters tuned by
cross-validation, calibrated probabilities for a better `nll`, class weights for the official
balanced accuracy.""",
    ),
]


def build() -> Path:
    cells = [
        new_markdown_cell(text) if kind == "md" else new_code_cell(text) for kind, text in CELLS
    ]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nbformat.validate(notebook)
    nbformat.write(notebook, NOTEBOOK)
    return NOTEBOOK


if __name__ == "__main__":
    print(f"wrote {build()}")
