"""Read and write a data split as FITS files that astronomers can open.

A split directory (``data/train``, ``data/test``; the server's hidden set is the ``data/test``
split of its own folder) holds:

- ``blends.fits``: primary image HDU, shape (N, 128, 128) float32, the noisy blends.
- ``truth.fits``: primary image HDU, shape (N, 2, 128, 128) float32, the noiseless image of
  the central galaxy (index 0) and of its companion (index 1).
- ``catalogue.fits``: a binary table, one row per blend (fluxes, magnitudes, radii, positions,
  morphology).

Images are stored uncompressed and unscaled so that astropy memory-maps them: opening the
10,000-blend train set reads no pixel until it is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

BLENDS_FILE = "blends.fits"
TRUTH_FILE = "truth.fits"
CATALOGUE_FILE = "catalogue.fits"


def write_split(
    split_dir: Path,
    blends: np.ndarray,
    truth: np.ndarray,
    catalogue: Table,
    header: dict[str, object] | None = None,
) -> None:
    """Write one split; ``truth`` has shape (N, 2, H, W), ``blends`` (N, H, W)."""
    if truth.shape[0] != blends.shape[0] or truth.shape[2:] != blends.shape[1:]:
        raise ValueError(
            f"truth shape {truth.shape} does not match blends shape {blends.shape}: "
            "expected (N, 2, H, W) for (N, H, W)"
        )
    split_dir = Path(split_dir)
    split_dir.mkdir(parents=True, exist_ok=True)
    fits_header = fits.Header()
    for key, value in (header or {}).items():
        fits_header[key] = value
    fits.PrimaryHDU(np.asarray(blends, dtype=np.float32), header=fits_header).writeto(
        split_dir / BLENDS_FILE, overwrite=True
    )
    fits.PrimaryHDU(np.asarray(truth, dtype=np.float32), header=fits_header).writeto(
        split_dir / TRUTH_FILE, overwrite=True
    )
    catalogue.write(split_dir / CATALOGUE_FILE, overwrite=True)


def _memmap_image(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: generate the data first, e.g. "
            "`python -m ramp_kit.data --out data` (see the starting kit README)"
        )
    with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
        # The memory map outlives the HDU list: astropy keeps the file open for it.
        return hdul[0].data


def read_blends(split_dir: Path) -> np.ndarray:
    """The noisy blends of a split, (N, 128, 128) float32, memory-mapped (big-endian)."""
    return _memmap_image(Path(split_dir) / BLENDS_FILE)


def read_truth(split_dir: Path) -> np.ndarray:
    """Noiseless galaxy images, (N, 128, 128, 2): central [..., 0], companion [..., 1].

    A transposed view of the memory map: no pixel is read here.
    """
    return _memmap_image(Path(split_dir) / TRUTH_FILE).transpose(0, 2, 3, 1)


def read_catalogue(split_dir: Path) -> Table:
    """The per-blend catalogue of a split."""
    return Table.read(Path(split_dir) / CATALOGUE_FILE)


def read_split(split_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of a split: blends (N, 128, 128) and truth images (N, 128, 128, 2)."""
    return read_blends(split_dir), read_truth(split_dir)
