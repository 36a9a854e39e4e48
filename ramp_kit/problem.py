"""The deblending challenge as a ramp-workflow problem (``ramp-test`` reads this module).

Score types: ``central_iou`` (official), ``companion_iou``, ``overlap_iou``, ``flux_error``.
Data: ``<path>/data/train`` and ``<path>/data/test`` (see ``ramp_kit.io``). With
``RAMP_TEST_MODE`` set (``ramp-test --quick-test``) only the first blends are used. The
number of CV folds is read from ``DEBLEND_N_FOLDS`` (default 1: one shuffled 80/20 split,
since every fold costs GPU time on the server).
"""

from ramp_kit.constants import MASK_THRESHOLD
from ramp_kit.predictions import Predictions
from ramp_kit.scoring.central_iou import CentralIoU
from ramp_kit.scoring.companion_iou import CompanionIoU
from ramp_kit.scoring.flux_error import FluxError
from ramp_kit.scoring.overlap_iou import OverlapIoU
from ramp_kit.splits import get_cv, get_test_data, get_train_data
from ramp_kit.workflow import DeblenderWorkflow

__all__ = [
    "Predictions",
    "get_cv",
    "get_test_data",
    "get_train_data",
    "problem_title",
    "score_types",
    "workflow",
]

problem_title = "Galaxy deblending: segment a central galaxy and its companion"
workflow = DeblenderWorkflow()
score_types = [
    CentralIoU(mask_threshold=MASK_THRESHOLD),
    CompanionIoU(mask_threshold=MASK_THRESHOLD),
    OverlapIoU(mask_threshold=MASK_THRESHOLD),
    FluxError(),
]
