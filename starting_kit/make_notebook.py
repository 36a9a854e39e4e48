"""Build ``deblending_starting_kit.ipynb`` from the cells below (``python make_notebook.py``).

The notebook is kept as Python source so that changes are reviewed as text; the ``.ipynb`` is
written without outputs and executed by the tests on a tiny dataset.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOK = Path(__file__).with_name("deblending_starting_kit.ipynb")

CELLS = [
    (
        "md",
        """# Galaxy deblending challenge: starting kit

In deep images, galaxies overlap on the sky: about half of the galaxies that surveys such as
LSST, Euclid or the HST deep fields detect are **blended** with a neighbour. A blend biases
everything measured on the central galaxy: its flux (hence magnitude, colour, photometric
redshift), its size and its shape (hence weak-lensing shear). *Deblending* means deciding, pixel
by pixel, which light belongs to which galaxy.

In this challenge each image is a 128 x 128 pixel stamp (0.06 arcsec / pixel, HST WFC3/IR F160W
depth) of a **central galaxy** at the centre of the stamp and a **companion** somewhere
around it, with sky noise. For every pixel you predict two probabilities: that the pixel belongs
to the central galaxy, and that it belongs to the companion (both may be high where the two
galaxies overlap).

The truth is the *segmentation mask* of each galaxy: the pixels where its noiseless image is
brighter than 1 sigma of the sky noise. Scores:

| score | meaning | better |
| --- | --- | --- |
| `central_iou` (**official**) | intersection over union of the central galaxy's mask | higher |
| `companion_iou` | the same for the companion | higher |
| `overlap_iou` | IoU of the region where the two galaxies overlap | higher |
| `flux_error` | median error (%) of the central flux measured in your mask | lower |

This notebook loads the data, shows blends and masks, runs a classical baseline (SExtractor),
trains a small neural network, scores both, and shows how to test and submit your own
`deblender.py`.""",
    ),
    (
        "code",
        """import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rampwf
from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

# The notebook lives in starting_kit/; the kit, the submissions and the data are one level up.
ROOT = Path("..").resolve()
# Where `python -m ramp_kit.data --out DIR` wrote DIR/data/train and DIR/data/test.
DATA_DIR = Path(os.environ.get("DEBLEND_DATA_DIR", ROOT)).resolve()
QUICK = bool(os.environ.get("RAMP_TEST_MODE"))  # set by the tests: a few blends, one epoch
print("data:", DATA_DIR / "data")""",
    ),
    (
        "md",
        """## Loading the data

The data are FITS files (`data/train/blends.fits`, `truth.fits`, `catalogue.fits`): you can
open them with `astropy.io.fits` or DS9. The kit's `problem.py` reads them for you:

- `X`: the noisy blends, shape (N, 128, 128), in e-/s;
- `y`: the noiseless images of the two galaxies, shape (N, 128, 128, 2): `y[..., 0]` is the
  central galaxy, `y[..., 1]` the companion.""",
    ),
    (
        "code",
        """problem = rampwf.utils.assert_read_problem(str(ROOT / "ramp_kit"))
X_train, y_train = problem.get_train_data(path=str(DATA_DIR))
X_test, y_test = problem.get_test_data(path=str(DATA_DIR))
print(f"train: X {X_train.shape}, y {y_train.shape}")
print(f"test:  X {X_test.shape}, y {y_test.shape}")
print("score types:", [score.name for score in problem.score_types])""",
    ),
    (
        "md",
        """## Looking at blends

Galaxy images have a huge dynamic range: a linear scale shows only the bright cores. An
**arcsinh stretch** (`astropy.visualization.AsinhStretch`), linear near the sky and
logarithmic in the cores, shows the faint outskirts too. The true masks are drawn as contours:
orange for the central galaxy, cyan for the companion.""",
    ),
    (
        "code",
        """from ramp_kit.constants import MASK_THRESHOLD


def show(image, ax, title=""):
    norm = ImageNormalize(image, interval=PercentileInterval(99.5), stretch=AsinhStretch(0.05))
    ax.imshow(image, origin="lower", cmap="gray", norm=norm)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def contour_masks(masks, ax, colours=("orange", "cyan")):
    for channel, colour in enumerate(colours):
        if masks[..., channel].any():
            ax.contour(masks[..., channel], levels=[0.5], colors=colour, linewidths=1)


n_show = min(4, len(X_train))
fig, axes = plt.subplots(3, n_show, figsize=(3 * n_show, 9), squeeze=False)
for i in range(n_show):
    truth = np.asarray(y_train[i], dtype=np.float32)
    show(np.asarray(X_train[i]), axes[0, i], f"blend {i}")
    show(truth[..., 0], axes[1, i], "central (noiseless)")
    show(truth[..., 1], axes[2, i], "companion (noiseless)")
    contour_masks(truth > MASK_THRESHOLD, axes[0, i])
fig.tight_layout()""",
    ),
    (
        "code",
        """true_masks = np.asarray(y_train, dtype=np.float32) > MASK_THRESHOLD
central_area = true_masks[..., 0].sum(axis=(1, 2))
companion_area = true_masks[..., 1].sum(axis=(1, 2))
overlap_area = (true_masks[..., 0] & true_masks[..., 1]).sum(axis=(1, 2))
print(f"median central mask: {np.median(central_area):.0f} pixels")
print(f"median companion mask: {np.median(companion_area):.0f} pixels")
print(f"blends whose masks overlap: {np.mean(overlap_area > 0):.0%}")""",
    ),
    (
        "md",
        """## A classical baseline: SExtractor

`submissions/starting_kit/deblender.py` uses [`sep`](https://sep.readthedocs.io), the
SExtractor algorithms as a Python library: detection above 5 sigma, multi-threshold
deblending, a segmentation map; the detection nearest the centre is the central galaxy.
Every submission is a file `deblender.py` with a class `Deblender` that has two methods:

```python
class Deblender:
    def fit(self, blends, truth):  # (N, 128, 128) and (N, 128, 128, 2)
        ...
        return self

    def predict(self, blends):     # -> probabilities (N, 128, 128, 2)
        ...
```""",
    ),
    (
        "code",
        """def load_deblender(name):
    \"\"\"Import submissions/<name>/deblender.py, as ramp-test and the server do.\"\"\"
    path = ROOT / "submissions" / name / "deblender.py"
    spec = importlib.util.spec_from_file_location(f"deblender_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate(y_true, y_pred):
    \"\"\"Every score of the challenge, as one row of a table.\"\"\"
    return {score.name: score(y_true, y_pred) for score in problem.score_types}


sep_deblender = load_deblender("starting_kit").Deblender().fit(X_train, y_train)
sep_pred = sep_deblender.predict(X_test)
results = {"starting_kit (sep)": evaluate(y_test, sep_pred)}
pd.DataFrame(results).T""",
    ),
    (
        "md",
        """## A small neural network

`submissions/fcnn/deblender.py` is a small fully-convolutional network: six layers of 3x3
convolutions that output, for every pixel, the two probabilities. Before the network the images
are divided by the noise and stretched with `arcsinh`, as for display. Here we train it for a
few epochs on part of the training set to keep the demo short (`DEBLEND_EPOCHS`,
`DEBLEND_MAX_SAMPLES`); `submissions/unet/deblender.py` is a stronger U-Net that takes longer
to train.""",
    ),
    (
        "code",
        """os.environ.setdefault("DEBLEND_EPOCHS", "3")
os.environ.setdefault("DEBLEND_MAX_SAMPLES", "2000")
fcnn = load_deblender("fcnn").Deblender().fit(X_train, y_train)
fcnn_pred = fcnn.predict(X_test)
results["fcnn (demo training)"] = evaluate(y_test, fcnn_pred)
pd.DataFrame(results).T""",
    ),
    (
        "code",
        """n_show = min(4, len(X_test))
fig, axes = plt.subplots(3, n_show, figsize=(3 * n_show, 9), squeeze=False)
test_masks = np.asarray(y_test[:n_show], dtype=np.float32) > MASK_THRESHOLD
for i in range(n_show):
    for row, (masks, label) in enumerate(
        [(test_masks[i], "truth"), (sep_pred[i] > 0.5, "sep"), (fcnn_pred[i] > 0.5, "fcnn")]
    ):
        show(np.asarray(X_test[i]), axes[row, i], f"test blend {i}: {label}")
        contour_masks(masks, axes[row, i])
fig.tight_layout()""",
    ),
    (
        "md",
        """## Testing a submission locally with `ramp-test`

Before submitting, check that your `deblender.py` trains and predicts with the same program
the server runs. From the repository root:

```bash
ramp-test --ramp-kit-dir ramp_kit --ramp-data-dir . --ramp-submission-dir submissions \\
    --submission my_deblender --quick-test
```

`--quick-test` uses a handful of blends and one epoch: it checks the code in seconds. Drop it to
train and score on the full data (as the server does). The cell below runs it on the starting
kit.""",
    ),
    (
        "code",
        """ramp_test = Path(sys.executable).with_name("ramp-test")  # the one next to this Python
command = [
    str(ramp_test),
    "--ramp-kit-dir", str(ROOT / "ramp_kit"),
    "--ramp-data-dir", str(DATA_DIR),
    "--ramp-submission-dir", str(ROOT / "submissions"),
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

1. Copy a baseline: `cp -r submissions/unet submissions/my_deblender` and edit
   `submissions/my_deblender/deblender.py` (the class must stay `Deblender` with `fit` and
   `predict`; imports: numpy, keras, sep).
2. Run `ramp-test ... --submission my_deblender --quick-test` (above) until it passes.
3. On the event page, *Submit*: give a name (1 to 40 letters, digits, `_` or `-`, unique within
   your team, e.g. `unet_v2`) and upload `deblender.py` (small extra files such as weights
   `.h5`/`.keras`/`.npz` may be added).
4. The server trains your model on the training set and scores it on a hidden test set; the
   live leaderboard shows the public half, the final ranking uses the private half.

Limits (the instructors may change them per event): at least 5 minutes between two
submissions of a team, at most 10 a day, 30 minutes of training, 8 GB of memory, and no
network (weights cannot be downloaded during training).

Ideas: train longer, augment the data with flips and rotations, change the loss, predict the
overlap region explicitly, use the catalogue of the training set...""",
    ),
]


def build():
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
