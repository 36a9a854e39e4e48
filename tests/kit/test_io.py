"""FITS input/output of a split: round trip, memory mapping, errors, hidden halves."""

import mmap

import numpy as np
import pytest
from astropy.table import Table

from ramp_kit.io import read_blends, read_catalogue, read_split, write_split


def _split(n=3, size=4):
    rng = np.random.default_rng(0)
    blends = rng.normal(size=(n, size, size)).astype(np.float32)
    truth = rng.uniform(size=(n, 2, size, size)).astype(np.float32)
    catalogue = Table({"blend_id": np.arange(n), "central_flux": rng.uniform(1, 9, n)})
    return blends, truth, catalogue


def _is_memory_mapped(array):
    base = array
    while base is not None:
        if isinstance(base, (mmap.mmap, np.memmap)):
            return True
        base = getattr(base, "base", None)
    return False


def test_write_split_read_split_round_trip(tmp_path):
    blends, truth, catalogue = _split()
    write_split(tmp_path, blends, truth, catalogue, header={"SPLIT": "train"})
    X, y = read_split(tmp_path)  # noqa: N806
    np.testing.assert_array_equal(X, blends)
    # y is channels-last: [..., 0] the central galaxy, [..., 1] its companion.
    np.testing.assert_array_equal(y[..., 0], truth[:, 0])
    np.testing.assert_array_equal(y[..., 1], truth[:, 1])
    assert list(read_catalogue(tmp_path)["blend_id"]) == [0, 1, 2]


def test_read_split_is_memory_mapped(tmp_path):
    write_split(tmp_path, *_split())
    X, y = read_split(tmp_path)  # noqa: N806
    assert _is_memory_mapped(X) and _is_memory_mapped(y)


def test_read_blends_missing_split_says_how_to_generate(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m ramp_kit.data"):
        read_blends(tmp_path / "nowhere")


def test_write_split_rejects_mismatched_truth(tmp_path):
    blends, truth, catalogue = _split()
    with pytest.raises(ValueError, match=r"expected \(N, 2, H, W\)"):
        write_split(tmp_path, blends, truth[:2], catalogue)
