"""The compiled one-pass sums against plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_kit.scoring.statistics import ISOPHOTE, image_statistics


def numpy_statistics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    truth, pred = y_true.astype(np.float64), y_pred.astype(np.float64)

    def segment(images: np.ndarray) -> np.ndarray:
        central, companion = images[..., 0], images[..., 1]
        return (central > ISOPHOTE) & (central >= companion)

    segment_true, segment_pred = segment(y_true), segment(y_pred)
    return {
        "true_flux": truth.sum(axis=(1, 2)),
        "pred_flux": pred.sum(axis=(1, 2)),
        "true_power": (truth**2).sum(axis=(1, 2)),
        "squared_error": ((pred - truth) ** 2).sum(axis=(1, 2)),
        "segment_true": segment_true.sum(axis=(1, 2)),
        "segment_pred": segment_pred.sum(axis=(1, 2)),
        "segment_both": (segment_true & segment_pred).sum(axis=(1, 2)),
    }


@pytest.mark.parametrize("n_images", [1, 70, 130])  # within one chunk, and over chunks
def test_statistics_match_numpy(n_images: int) -> None:
    rng = np.random.default_rng(n_images)
    # Galaxy-like values around the isophote, with negative noise.
    y_true = rng.normal(ISOPHOTE, 2 * ISOPHOTE, (n_images, 128, 128, 2)).astype(np.float32)
    y_pred = y_true + rng.normal(0, ISOPHOTE, y_true.shape).astype(np.float32)
    stats, expected = image_statistics(y_true, y_pred), numpy_statistics(y_true, y_pred)
    assert stats.keys() == expected.keys()
    for name in ("segment_true", "segment_pred", "segment_both"):
        assert np.array_equal(stats[name], expected[name]), name
    for name in ("true_flux", "pred_flux", "true_power", "squared_error"):
        scale = np.abs(expected[name]).max()
        np.testing.assert_allclose(stats[name], expected[name], rtol=1e-5, atol=1e-6 * scale)


def test_statistics_small_stamps() -> None:
    # 3 x 3: central 1 at the centre and 0.5 at (0, 0) where the companion is 2.
    y_true = np.zeros((1, 3, 3, 2), dtype=np.float32)
    y_true[0, 1, 1, 0], y_true[0, 0, 0] = 1.0, [0.5, 2.0]
    stats = image_statistics(y_true, np.zeros_like(y_true))
    assert stats["true_flux"].tolist() == [[1.5, 2.0]]
    assert stats["true_power"].tolist() == [[1.25, 4.0]]
    assert stats["squared_error"].tolist() == [[1.25, 4.0]]
    assert (stats["segment_true"][0], stats["segment_pred"][0]) == (1, 0)


def test_statistics_memory_map_layout_gives_the_same_sums() -> None:
    rng = np.random.default_rng(1)
    y = rng.random((3, 128, 128, 2), dtype=np.float32)
    fits_like = np.ascontiguousarray(y.transpose(0, 3, 1, 2)).astype(">f4").transpose(0, 2, 3, 1)
    native, converted = image_statistics(y, y), image_statistics(fits_like, y)
    for name, values in native.items():
        assert np.array_equal(values, converted[name]), name
