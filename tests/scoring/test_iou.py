"""Central segmentation IoU: segments read from the images, the same way for both."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit.constants import MASK_THRESHOLD
from ramp_kit.scoring.central_iou import CentralIoU

CENTRAL = [[0, 1, 0], [1, 4, 1], [0, 1, 0]]  # segment: the plus, 5 pixels
COMPANION = [[0, 0, 2], [0, 0, 0], [0, 0, 2]]  # where the central image is 0
NONE = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]


def stack(*pairs: tuple[list[list[float]], list[list[float]]]) -> np.ndarray:
    return np.array([np.stack(pair, axis=-1) for pair in pairs], dtype=np.float32)


def central_iou(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return CentralIoU()(y_true, y_pred)


def test_central_iou_truth_is_one() -> None:
    y = stack((CENTRAL, COMPANION))
    assert central_iou(y, y.copy()) == 1


def test_central_iou_whole_blend_as_central() -> None:
    # Predicted central = blend: the plus and the two companion corners (7 pixels), with
    # no companion to dominate them. I = 5, U = 7.
    blend = (np.array(CENTRAL) + np.array(COMPANION)).tolist()
    score = central_iou(stack((CENTRAL, COMPANION)), stack((blend, NONE)))
    assert score == pytest.approx(5 / 7)


def test_central_iou_companion_dominated_pixels_leave_the_segment() -> None:
    # The companion (2) outshines the central galaxy (1) at (1, 2): the true segment is the
    # plus without it (4 pixels). Predicting the central image without the companion
    # keeps it: I = 4, U = 5.
    companion = [[0, 0, 0], [0, 0, 2], [0, 0, 0]]
    y_true = stack((CENTRAL, companion))
    assert central_iou(y_true, stack((CENTRAL, NONE))) == pytest.approx(4 / 5)


def test_central_iou_tie_goes_to_the_central_galaxy() -> None:
    # Equal light at (1, 2): still central. Same segments, IoU 1, against the plus.
    tie = [[0, 0, 0], [0, 0, 1], [0, 0, 0]]
    assert central_iou(stack((CENTRAL, tie)), stack((CENTRAL, NONE))) == 1


def test_central_iou_isophote_is_strict() -> None:
    # The centre pixel exactly at the isophote is out, just above it is in: a 1-pixel
    # segment against an empty one, then against itself.
    threshold = np.float32(MASK_THRESHOLD)
    at = np.zeros((1, 3, 3, 2), dtype=np.float32)
    at[0, 1, 1, 0] = threshold
    above = at.copy()
    above[0, 1, 1, 0] = np.nextafter(threshold, np.float32(1))
    assert central_iou(above, at) == 0
    assert central_iou(above, above.copy()) == 1


def test_central_iou_both_empty_scores_one() -> None:
    assert central_iou(stack((NONE, COMPANION)), stack((NONE, NONE))) == 1


def test_central_iou_inverted() -> None:
    # Prediction lit only where the truth is dark: I = 0.
    inverted = (1 - (np.array(CENTRAL) > 0)).tolist()
    assert central_iou(stack((CENTRAL, NONE)), stack((inverted, NONE))) == 0


def test_central_iou_symmetric_and_mean_over_blends() -> None:
    # Blend 1: plus vs plus = 1; blend 2: plus vs the centre pixel only = 1/5. Mean 3/5.
    centre = [[0, 0, 0], [0, 4, 0], [0, 0, 0]]
    a = stack((CENTRAL, NONE), (CENTRAL, NONE))
    b = stack((CENTRAL, NONE), (centre, NONE))
    assert central_iou(a, b) == central_iou(b, a) == pytest.approx(3 / 5)


def test_central_iou_big_endian_transposed_truth() -> None:
    # The truth as read from FITS: (N, 2, H, W) big-endian, transposed to channels last.
    y = stack((CENTRAL, COMPANION), (COMPANION, CENTRAL))
    fits_like = np.ascontiguousarray(y.transpose(0, 3, 1, 2)).astype(">f4")
    assert central_iou(fits_like.transpose(0, 2, 3, 1), y) == 1
