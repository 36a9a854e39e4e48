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
redshift), its size and its shape (hence weak-lensing shear). *Deblending* means giving each
galaxy its own light back.

In this challenge each image is a 128 x 128 pixel stamp (0.06 arcsec / pixel, HST WFC3/IR
F160W-like, in e-/s per pixel) of a **central galaxy** at the centre of the stamp and a
**companion** somewhere around it, with sky noise. For every blend you predict two
**deblended images**: the central galaxy as it would look alone and without noise, and the
companion likewise. This is the image-to-image task of Boucaud et al. (2020, MNRAS 491,
2481), the study this challenge comes from.

The official score is the central galaxy's **flux error**: the mean over blends of
|sum of your central image - sum of the true one| / true sum, in per cent. The leaderboard
also shows the companion's flux error, the photometric bias, the share of catastrophic
outliers, a pixel-by-pixel image residual and a segmentation IoU (below, each is explained as
it is met).

This notebook loads the data, shows what a deblended image is and why flux must be
conserved, scores a few simple rules to learn how the scores read, runs a classical baseline
(SExtractor) and a small neural network, draws their images and residuals, breaks their
errors down by blend type, and shows how to test and submit your own `deblender.py`.""",
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
from IPython.display import Image, display

# The notebook lives in the kit folder, ramp_kit/; the data is made one level up, beside it.
ROOT = Path("..").resolve()
KIT = ROOT / "ramp_kit"
sys.path.insert(0, str(ROOT))  # for `import ramp_kit` when the kit is not installed
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
- `y`: the true images of the two galaxies, noiseless, shape (N, 128, 128, 2): `y[..., 0]`
  is the central galaxy, `y[..., 1]` the companion. This is also what you predict.""",
    ),
    (
        "code",
        """problem = rampwf.utils.assert_read_problem(str(ROOT / "ramp_kit"))
X_train, y_train = problem.get_train_data(path=str(DATA_DIR))
X_test, y_test = problem.get_test_data(path=str(DATA_DIR))
# Plain float32 arrays in memory (the files are memory-mapped, big-endian FITS).
X_train, y_train = np.asarray(X_train, np.float32), np.asarray(y_train, np.float32)
X_test, y_test = np.asarray(X_test, np.float32), np.asarray(y_test, np.float32)
print(f"train: X {X_train.shape}, y {y_train.shape}")
print(f"test:  X {X_test.shape}, y {y_test.shape}")
print("score types:", [score.name for score in problem.score_types])""",
    ),
    (
        "md",
        """## What a deblended image is

Galaxy images have a huge dynamic range: a linear scale shows only the bright cores. An
**arcsinh stretch**, linear near the sky and logarithmic in the cores, shows the faint
outskirts too. Each row below: the blend you are given, then the two images you must
predict. Their sum is the blend without its noise: the deblended images share out the
blend's light, they do not invent any.""",
    ),
    (
        "code",
        """from ramp_kit.constants import NOISE_SIGMA


def stretch(image):
    return np.arcsinh(np.asarray(image, np.float32) / NOISE_SIGMA)


n_show = min(4, len(X_train))
fig, axes = plt.subplots(n_show, 4, figsize=(12, 3 * n_show), squeeze=False)
for i in range(n_show):
    panels = [X_train[i], y_train[i, ..., 0], y_train[i, ..., 1], y_train[i].sum(axis=-1)]
    titles = ["blend (noisy)", "central galaxy", "companion", "central + companion"]
    top = stretch(X_train[i]).max()
    for ax, image, title in zip(axes[i], panels, titles):
        ax.imshow(stretch(image), origin="lower", cmap="gray", vmin=-1, vmax=top)
        ax.set_title(title)
        ax.set_axis_off()
fig.tight_layout()""",
    ),
    (
        "md",
        """## Why flux must be conserved

Astronomers measure a galaxy's brightness, its **flux**, by adding up its light: the sum of
its image. The flux gives the magnitude, and from magnitudes in several bands, colours and
redshifts. A deblender that gives the central galaxy some of its companion's light, or loses
some of its own, biases all of these. That is why the official score is the central
galaxy's flux error, and why the true images score 0 on it.

How much light is at stake? Below: the companion's share of the blend's light, and the
magnitude difference of the two galaxies.""",
    ),
    (
        "code",
        """flux = y_train.sum(axis=(1, 2))  # (N, 2): central, companion, in e-/s
companion_share = flux[:, 1] / flux.sum(axis=1)
magnitude_difference = -2.5 * np.log10(flux[:, 1] / flux[:, 0])
print(f"median companion share of the light: {np.median(companion_share):.0%}")
print(f"companion brighter than the central galaxy in {np.mean(flux[:, 1] > flux[:, 0]):.0%}"
      " of the blends")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].hist(companion_share, bins=20)
axes[0].set_xlabel("companion's share of the light")
axes[1].hist(magnitude_difference, bins=20)
axes[1].set_xlabel("magnitude difference (companion - central)")
fig.tight_layout()""",
    ),
    (
        "md",
        """## How the scores read: a few simple rules

Before any model, score a few rules that use the **true** images, to see what each score
rewards. Every score is computed by the kit's score types, exactly as the leaderboard does:

- `central_flux_error` (**official**): mean over blends of \\|sum predicted - sum true\\| /
  sum true for the central galaxy, in %; best 0.
- `companion_flux_error`: the same for the companion.
- `central_flux_bias`: the size of the *signed* mean flux error of the central galaxy, in %:
  errors of opposite signs cancel; best 0.
- `central_outlier_fraction`: % of blends whose central magnitude is off by more than
  0.1 mag (a flux off by about 10 %); best 0.
- `image_residual`: mean over blends and both galaxies of sum (predicted - true)^2 /
  sum true^2, in %; 0 is perfect, 100 is no better than an empty image.
- `central_iou`: overlap (intersection over union) of the central galaxy's segment, the
  pixels above 1 sigma of the sky noise where it is at least as bright as its companion,
  read the same way from your images and from the true ones; best 1.

The rules: the truth itself; no deblending (the whole noiseless blend as the central
galaxy); half of the blend to each; each pixel to the nearer galaxy centre; each pixel whole
to the galaxy that dominates it (with perfect knowledge of both images).""",
    ),
    (
        "code",
        """def evaluate(y_true, y_pred):
    \"\"\"Every score of the challenge, as one row of a table.\"\"\"
    return {score.name: score(y_true, y_pred) for score in problem.score_types}


def split_blend(blend, central_share):
    central = blend * central_share
    return np.stack([central, blend - central], axis=-1).astype(np.float32)


from ramp_kit.diagnostics import fluxes_and_centroids

central, companion = y_test[..., 0], y_test[..., 1]
noiseless_blend = central + companion
_, centres = fluxes_and_centroids(y_test)  # light-weighted centres, (N, x or y, galaxy)
ys, xs = np.mgrid[:128, :128].astype(np.float32)
distance = [np.hypot(xs - centres[:, 0, g, None, None], ys - centres[:, 1, g, None, None])
            for g in (0, 1)]
rules = {
    "truth": y_test,
    "whole blend as central": split_blend(noiseless_blend, 1.0),
    "half of the blend": split_blend(noiseless_blend, 0.5),
    "nearest centre": split_blend(noiseless_blend, distance[0] <= distance[1]),
    "dominant galaxy (ideal)": split_blend(noiseless_blend, central >= companion),
}
pd.DataFrame({name: evaluate(y_test, y_pred) for name, y_pred in rules.items()}).T.round(3)""",
    ),
    (
        "md",
        """Reading the table:

- No deblending at all is a catastrophe: the central galaxy gets its companion's light, often
  more than doubling its flux.
- Splitting each pixel in half, or cutting the blend at mid-distance, still gets the flux of
  the central galaxy wrong by tens of per cent.
- Even the ideal hard segmentation, which gives each pixel whole to the galaxy that
  dominates it, errs where both galaxies shine: a deblender must **share** those pixels.
- The IoU can be high while the flux is off, and vice versa: the IoU rewards the shape of the
  region a galaxy dominates, the flux error how much light it gets.""",
    ),
    (
        "md",
        """## A classical baseline: SExtractor

`submissions/starting_kit/deblender.py` uses [`sep`](https://sep.readthedocs.io), the
SExtractor algorithms as a Python library: detection above a threshold, multi-threshold
deblending, a segmentation map; the detection nearest the centre is the central galaxy, and
each galaxy's image is the blend inside its segment. Its `fit` tunes the detection threshold
and the deblending contrast on training blends. Every submission is a file `deblender.py`
with a class `Deblender` that has two methods:

```python
class Deblender:
    def fit(self, blends, truth):  # (N, 128, 128) and (N, 128, 128, 2)
        ...
        return self

    def predict(self, blends):     # -> deblended images (N, 128, 128, 2), float32, e-/s
        ...
```""",
    ),
    (
        "code",
        """def load_deblender(name):
    \"\"\"Import submissions/<name>/deblender.py, as ramp-test and the server do.\"\"\"
    path = KIT / "submissions" / name / "deblender.py"
    spec = importlib.util.spec_from_file_location(f"deblender_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sep_deblender = load_deblender("starting_kit").Deblender().fit(X_train, y_train)
sep_pred = sep_deblender.predict(X_test)
results = {"starting_kit (sep)": evaluate(y_test, sep_pred)}
pd.DataFrame(results).T.round(3)""",
    ),
    (
        "md",
        """## A small neural network

`submissions/fcnn/deblender.py` is a small fully-convolutional network: six layers of 3x3
convolutions that output, for every pixel, the fractions of the blend's light that belong
to the central galaxy, to the companion and to neither; the deblended images are these
fractions times the blend, so no light is invented. It is trained on the challenge's own
scores (flux error plus image residual). Here we train it for a few epochs on part of the
training set to keep the demo short (`DEBLEND_EPOCHS`, `DEBLEND_MAX_SAMPLES`);
`submissions/unet/deblender.py`, when your event publishes it, is a stronger U-Net with a full
training recipe.""",
    ),
    (
        "code",
        """os.environ.setdefault("DEBLEND_EPOCHS", "3")
os.environ.setdefault("DEBLEND_MAX_SAMPLES", "2000")
fcnn = load_deblender("fcnn").Deblender().fit(X_train, y_train)
fcnn_pred = fcnn.predict(X_test)
results["fcnn (demo training)"] = evaluate(y_test, fcnn_pred)
pd.DataFrame(results).T.round(3)""",
    ),
    (
        "md",
        """## Images and residuals

The picture the platform shows on a submission's page: for a few test blends, the blend,
the true images, the predicted images, and the residuals (predicted - true): red where the
prediction has too much light, blue where it lacks some. Here, the network's.""",
    ),
    (
        "code",
        """display(Image(problem.preview_png(X_test[:3], y_test[:3], fcnn_pred[:3])))""",
    ),
    (
        "md",
        """## Where a deblender fails

A single number hides where a model goes wrong. The kit's `diagnostics` breaks the official
score down by the separation of the two galaxies, their magnitude difference and the central
galaxy's magnitude (all measured on the true images); the platform shows the same breakdown
for every submission. Close pairs and bright companions are where deblending is hard.""",
    ),
    (
        "code",
        """breakdowns = {name: problem.diagnostics(y_test, pred)
              for name, pred in [("sep", sep_pred), ("fcnn", fcnn_pred)]}
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for ax, index in zip(axes, range(3)):
    for offset, (name, parts) in zip((-0.2, 0.2), breakdowns.items()):
        part = parts[index]
        positions = np.arange(len(part["bins"])) + offset
        ax.bar(positions, part["values"], width=0.4, label=name)
        ax.set_xticks(np.arange(len(part["bins"])), part["bins"], rotation=30)
    ax.set_title(part["title"], fontsize=9)
    ax.set_ylabel("central flux error (%)")
    ax.legend()
fig.tight_layout()
by_separation = breakdowns["fcnn"][0]
print(by_separation["title"], "(fcnn)")
pd.DataFrame({"blends": by_separation["counts"], "error (%)": by_separation["values"]},
             index=by_separation["bins"]).round(1)""",
    ),
    (
        "md",
        """## Testing a submission locally with `ramp-test`

Before submitting, check that your `deblender.py` trains and predicts with the same program
the server runs. From the folder that holds `ramp_kit/` (where you unzipped it):

```bash
ramp-test --ramp-kit-dir ramp_kit --ramp-data-dir . --ramp-submission-dir ramp_kit/submissions \\
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

1. Copy a baseline: `cp -r ramp_kit/submissions/fcnn ramp_kit/submissions/my_deblender` and
   edit `ramp_kit/submissions/my_deblender/deblender.py` (the class must stay `Deblender`
   with `fit` and `predict`; `predict` returns float32 images (N, 128, 128, 2) in e-/s,
   finite, negative values allowed; imports: numpy, keras, sep).
2. Run `ramp-test ... --submission my_deblender --quick-test` (above) until it passes.
3. On the event page, *Submit*: give a name (1 to 40 letters, digits, `_` or `-`, unique within
   your team, e.g. `fcnn_v2`) and upload `deblender.py` (small extra files such as weights
   `.h5`/`.keras`/`.npz` may be added).
4. The server trains your model on the training set and scores it on a hidden test set; the
   live leaderboard shows the public half, the final ranking uses the private half.

Limits (the instructors may change them per event): at least 5 minutes between two
submissions of a team, at most 10 a day, 30 minutes of training, 8 GB of memory, and no
network (weights cannot be downloaded during training).

Ideas: train longer (the U-Net's `DEBLEND_RECIPE=full`), weigh the loss towards the central
galaxy, predict the images directly instead of fractions of the noisy blend (denoising helps
the image residual and the IoU), look at the breakdown to see which blends to work on, use
the catalogue of the training set...""",
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
