"""The word-wise pixel counters against plain NumPy counts."""

from __future__ import annotations

import numpy as np

from ramp_kit.scoring.statistics import count_overlap, count_pixels


def random_masks(fill: float, seed: int = 0) -> np.ndarray:
    """(4, 3, 128 x 128, 2) bool masks, each pixel True with probability ``fill``."""
    rng = np.random.default_rng(seed)
    return rng.random((4, 3, 128 * 128, 2)) < fill


def test_count_pixels_matches_count_nonzero() -> None:
    for fill in (0.0, 0.3, 0.9, 1.0):
        masks = random_masks(fill)
        assert np.array_equal(count_pixels(masks), np.count_nonzero(masks, axis=-2))


def test_count_overlap_matches_logical_and() -> None:
    for fill in (0.0, 0.5, 1.0):
        masks = random_masks(fill, seed=1)
        expected = np.count_nonzero(masks[..., 0] & masks[..., 1], axis=-1)
        assert np.array_equal(count_overlap(masks), expected)


def test_count_small_stamps_fall_back() -> None:
    # 3 x 3 stamps do not fill a word group: plain counts. Central 2 pixels, companion 1,
    # both on pixel 0.
    masks = np.zeros((1, 9, 2), dtype=bool)
    masks[0, [0, 4], 0] = True
    masks[0, 0, 1] = True
    assert count_pixels(masks).tolist() == [[2, 1]]
    assert count_overlap(masks).tolist() == [1]
