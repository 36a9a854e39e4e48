"""IoU score types on 3x3 masks worked by hand: |P & T| / |P | T|, both empty scoring 1."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit.scoring.central_iou import CentralIoU
from ramp_kit.scoring.companion_iou import CompanionIoU
from ramp_kit.scoring.overlap_iou import OverlapIoU

THRESHOLD = 0.5


def stack(*images: tuple[list[list[int]], list[list[int]]]) -> np.ndarray:
    """(N, 3, 3, 2) float32 from (central, companion) 3x3 pairs of 0/1."""
    return np.array([np.stack(pair, axis=-1) for pair in images], dtype=np.float32)


EMPTY = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
FULL = [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
LEFT = [[1, 1, 0], [1, 1, 0], [1, 1, 0]]  # 6 pixels
RIGHT = [[0, 1, 1], [0, 1, 1], [0, 1, 1]]  # 6 pixels, 3 shared with LEFT
CENTRE = [[0, 0, 0], [0, 1, 0], [0, 0, 0]]


def central_iou(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return CentralIoU(mask_threshold=THRESHOLD)(y_true, y_pred)


def test_central_iou_perfect() -> None:
    y = stack((LEFT, EMPTY))
    assert central_iou(y, y) == 1


def test_central_iou_inverted() -> None:
    # Predicted mask is the complement of the true one: I = 0.
    inverted = 1 - np.array(LEFT)
    assert central_iou(stack((LEFT, EMPTY)), stack((inverted, EMPTY))) == 0


def test_central_iou_both_empty_scores_one() -> None:
    assert central_iou(stack((EMPTY, FULL)), stack((EMPTY, EMPTY))) == 1


def test_central_iou_one_empty_scores_zero() -> None:
    assert central_iou(stack((EMPTY, EMPTY)), stack((CENTRE, EMPTY))) == 0
    assert central_iou(stack((CENTRE, EMPTY)), stack((EMPTY, EMPTY))) == 0


def test_central_iou_single_object_in_full_prediction() -> None:
    # T = 1 pixel, P = 9 pixels: I = 1, U = 9.
    assert central_iou(stack((CENTRE, EMPTY)), stack((FULL, EMPTY))) == pytest.approx(1 / 9)


def test_central_iou_partial_overlap_is_i_over_u_not_i_over_u_minus_i() -> None:
    # LEFT and RIGHT share the middle column: I = 3, U = 6 + 6 - 3 = 9, IoU = 3/9.
    # Adding boolean masks (an OR) gave U = 6 and the wrong I / (U - I) = 3/6.
    score = central_iou(stack((LEFT, EMPTY)), stack((RIGHT, EMPTY)))
    assert score == pytest.approx(3 / 9)


def test_central_iou_symmetric() -> None:
    a, b = stack((LEFT, EMPTY)), stack((CENTRE, EMPTY))
    assert central_iou(a, b) == central_iou(b, a) == pytest.approx(1 / 6)


def test_central_iou_mean_over_images() -> None:
    # Image 1: 1; image 2: 3/9. Mean = (1 + 1/3) / 2 = 2/3.
    y_true = stack((LEFT, EMPTY), (LEFT, EMPTY))
    y_pred = stack((LEFT, EMPTY), (RIGHT, EMPTY))
    assert central_iou(y_true, y_pred) == pytest.approx(2 / 3)


def test_central_iou_probability_of_one_half_is_background() -> None:
    # A pixel at exactly 0.5 is undecided: not in the predicted mask.
    y_pred = stack((LEFT, EMPTY)) * np.float32(0.5)
    assert central_iou(stack((LEFT, EMPTY)), y_pred) == 0


def test_central_iou_uses_mask_threshold_on_truth() -> None:
    # Truth 0.2 everywhere, 0.9 at the centre: with threshold 0.5 only the centre counts.
    truth = stack((CENTRE, EMPTY)) * np.float32(0.7) + np.float32(0.2)
    assert central_iou(truth, stack((CENTRE, EMPTY))) == 1


def test_companion_iou_reads_channel_one() -> None:
    # Central channel perfect, companion LEFT vs RIGHT: 3/9.
    y_true = stack((CENTRE, LEFT))
    y_pred = stack((CENTRE, RIGHT))
    assert CompanionIoU(mask_threshold=THRESHOLD)(y_true, y_pred) == pytest.approx(3 / 9)


def test_overlap_iou_of_shared_pixels() -> None:
    # True overlap LEFT & RIGHT = middle column (3 px). Predicted central FULL, companion
    # RIGHT: predicted overlap = RIGHT (6 px). I = 3, U = 6: 3/6.
    y_true = stack((LEFT, RIGHT))
    y_pred = stack((FULL, RIGHT))
    assert OverlapIoU(mask_threshold=THRESHOLD)(y_true, y_pred) == pytest.approx(3 / 6)


def test_overlap_iou_no_overlap_predicted_none_scores_one() -> None:
    y_true = stack((CENTRE, [[1, 0, 0], [0, 0, 0], [0, 0, 0]]))
    assert OverlapIoU(mask_threshold=THRESHOLD)(y_true, y_true) == 1


def test_central_iou_large_stamps_match_direct_count() -> None:
    # The fast pixel counter (128 x 128 stamps) against a plain NumPy IoU.
    rng = np.random.default_rng(0)
    y_true = rng.random((40, 128, 128, 2), dtype=np.float32)
    y_pred = rng.random((40, 128, 128, 2), dtype=np.float32)
    true, pred = y_true[..., 0] > THRESHOLD, y_pred[..., 0] > 0.5
    expected = np.mean((true & pred).sum(axis=(1, 2)) / (true | pred).sum(axis=(1, 2)))
    assert central_iou(y_true, y_pred) == pytest.approx(expected, rel=1e-12)


def test_central_iou_big_endian_truth() -> None:
    y = stack((LEFT, EMPTY), (RIGHT, CENTRE))
    assert central_iou(y.astype(">f4"), y) == 1
