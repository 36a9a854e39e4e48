"""The deblending challenge as a ramp-workflow problem (``ramp-test`` reads this module).

A submission's ``Deblender.predict`` returns the deblended images (N, 128, 128, 2) in e-/s:
channel 0 the central galaxy, channel 1 its companion, each as it would look alone and
without noise (``DESCRIPTION.md`` beside this module explains the task and every score).

Score types, the official one first: ``central_flux_error``, ``companion_flux_error``,
``central_flux_bias``, ``central_outlier_fraction``, ``image_residual``, ``central_iou``.
Data: ``<path>/data/train`` and ``<path>/data/test`` (see ``ramp_kit.io``). With
``RAMP_TEST_MODE`` set (``ramp-test --quick-test``) only the first blends are used. The
number of CV folds is read from ``DEBLEND_N_FOLDS`` (default 1: one shuffled 80/20 split,
since every fold costs GPU time on the server).

Optional hooks for a platform that hosts the kit: ``preview_png`` (a picture of a few
predictions) and ``diagnostics`` (the official score broken down by blend properties).
"""

import sys
from pathlib import Path

# ramp-test loads this file by its path: the folder holding the kit must be importable for
# ``import ramp_kit`` when the kit is used unzipped rather than installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ramp_kit.diagnostics import diagnostics  # noqa: E402
from ramp_kit.predictions import Predictions  # noqa: E402
from ramp_kit.preview import preview_png  # noqa: E402
from ramp_kit.scoring.central_flux_bias import CentralFluxBias  # noqa: E402
from ramp_kit.scoring.central_flux_error import CentralFluxError  # noqa: E402
from ramp_kit.scoring.central_iou import CentralIoU  # noqa: E402
from ramp_kit.scoring.central_outlier_fraction import CentralOutlierFraction  # noqa: E402
from ramp_kit.scoring.companion_flux_error import CompanionFluxError  # noqa: E402
from ramp_kit.scoring.image_residual import ImageResidual  # noqa: E402
from ramp_kit.splits import get_cv, get_test_data, get_train_data  # noqa: E402
from ramp_kit.workflow import DeblenderWorkflow  # noqa: E402

__all__ = [
    "Predictions",
    "diagnostics",
    "get_cv",
    "get_test_data",
    "get_train_data",
    "preview_png",
    "problem_title",
    "score_types",
    "workflow",
]

problem_title = "Galaxy deblending: recover the image of a central galaxy and its companion"
workflow = DeblenderWorkflow()
score_types = [
    CentralFluxError(),
    CompanionFluxError(),
    CentralFluxBias(),
    CentralOutlierFraction(),
    ImageResidual(),
    CentralIoU(),
]
