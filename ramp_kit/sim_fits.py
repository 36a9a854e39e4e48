"""Write a large FITS image cube chunk by chunk, without holding it in memory.

The file is laid out exactly as ``astropy.io.fits.PrimaryHDU(float32 array).writeto`` would
(header, then big-endian float32 data padded to 2880 bytes), so ``ramp_kit.io`` reads and
memory-maps it like any other split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

_BLOCK = 2880  # FITS block size in bytes


@dataclass(frozen=True)
class CubeTarget:
    """Where a cube's data lies in its file: picklable, so worker processes write in place."""

    path: Path
    offset: int
    shape: tuple[int, ...]

    def write(self, start: int, values: np.ndarray) -> None:
        """Store ``values`` at ``[start : start + len(values)]`` along the first axis."""
        if values.shape[1:] != self.shape[1:] or not 0 <= start <= self.shape[0] - len(values):
            raise ValueError(
                f"expected values of shape (<= {self.shape[0] - start}, *{self.shape[1:]}) "
                f"to store at {start} in {self.path}, got shape {values.shape}"
            )
        data = np.ascontiguousarray(values, dtype=">f4")
        item_bytes = int(np.prod(self.shape[1:])) * 4
        # One positioned write per chunk: a memory map flushed per chunk (msync) would make each
        # worker wait for the disk; several processes write disjoint ranges of the same file.
        view = memoryview(data).cast("B")
        position = self.offset + start * item_bytes
        with open(self.path, "r+b", buffering=0) as handle:
            while view:
                written = os.pwrite(handle.fileno(), view, position)
                view, position = view[written:], position + written


def allocate_cube(
    path: Path, shape: tuple[int, ...], header: dict[str, object] | None = None
) -> CubeTarget:
    """Create a float32 primary-HDU image of ``shape`` (NumPy order), its data still zero.

    Returns where its data lie, for the simulation workers to fill with ``CubeTarget.write``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu_header = fits.PrimaryHDU(np.zeros((1,) * len(shape), dtype=np.float32)).header
    for axis, length in enumerate(reversed(shape), start=1):
        hdu_header[f"NAXIS{axis}"] = length
    for key, value in (header or {}).items():
        hdu_header[key] = value
    header_bytes = hdu_header.tostring().encode("ascii")
    data_bytes = int(np.prod(shape)) * 4
    padded = -(-data_bytes // _BLOCK) * _BLOCK
    with open(path, "wb") as handle:
        handle.write(header_bytes)
        # A sparse file: the data blocks are zero until written.
        handle.truncate(len(header_bytes) + padded)
    return CubeTarget(path, len(header_bytes), tuple(shape))
