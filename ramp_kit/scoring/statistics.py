"""Per-blend sums of truth and predicted images, computed in one pass for every score.

Every score of the kit is a function of a few sums per blend and galaxy: the true and the
predicted flux, the squared residual and the true image's power, and the pixel counts of the
central galaxy's segment in the truth, in the prediction and in both. ``image_statistics``
computes them all in one pass over the two arrays (``scoring.statistics_cache`` shares the
pass between score types called one after the other).

The pass is one compiled loop (numba): reading the two arrays once from memory is most of its
cost, where a NumPy pass per sum cost several times the time budget of the scores (100 ms for
2,000 stamps). Each row of a stamp is read once; its values are added to per-column
accumulators (H terms each; float32 sums, float64 sums of squares), and the columns in
float64: closer to the exact sums than one accumulator per image. The truth against itself
gives exactly equal sums and a zero residual, so the truth scores perfectly. Two versions of
the loop read the truth as the scores receive it: channels last (in memory), or as the FITS
files store it, (N, 2, H, W) behind a transposed memory map, which then needs only a byte
swap instead of an interleaving copy.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ramp_kit.constants import MASK_THRESHOLD

N_CHANNELS = 2
CENTRAL, COMPANION = 0, 1
# The central segment of a pair of images: the pixels where the central image is above the
# 1-sigma isophote and at least as bright as the companion's (c > t and c >= k), applied the
# same way to the truth and to a prediction. c > t is c >= t+, t+ the next float32 above t.
ISOPHOTE = np.float32(MASK_THRESHOLD)
ISOPHOTE_ABOVE = np.nextafter(ISOPHOTE, np.float32(np.inf))

# The pixel counts ``image_statistics`` returns, (N,) int64 each.
SEGMENT_COUNTS = ("segment_true", "segment_pred", "segment_both")

# Stamps per task: 64 stamps of 128 x 128 x 2 float32 are 8 MiB per array, the most a
# big-endian or transposed input (FITS memory maps) is converted at a time.
CHUNK_IMAGES = 64
MAX_THREADS = 2
# Floating-point licences of the loop: reassociation lets the compiler vectorise the sums;
# no "nnan"/"ninf", so a NaN or an infinity still propagates to the score.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


def _compile(function):  # noqa: ANN001, ANN202 (numba's dispatcher has no useful type)
    """``numba.njit`` the loop, cached on disk where the kit's folder is writable."""
    try:
        return numba.njit(nogil=True, fastmath=FASTMATH, cache=True)(function)
    except RuntimeError:  # no writable cache location (a read-only install): compile per run
        return numba.njit(nogil=True, fastmath=FASTMATH)(function)


# The per-galaxy sums the loops fill, by column of their (n, 8) output: (central, companion)
# pairs of true flux, predicted flux (0-3), true power and squared error (4-7).
SUM_COLUMNS = {"true_flux": 0, "pred_flux": 2, "true_power": 4, "squared_error": 6}


@_compile
def _sums_interleaved_truth(truth, pred, above, sums, counts):  # noqa: ANN001, ANN202
    """Fill ``sums`` (n, 8) and ``counts`` (n, 3) from (n, H, 2W) interleaved stamps.

    Each stamp row is read once; a pixel's (central, companion) values are at (2x, 2x + 1).
    Per-column accumulators (float32 sums and float64 sums of squares of H terms, int16
    counts) vectorise; the columns are added in float64 at the end of each stamp.
    ``_sums_planar_truth`` is the same loop for a truth stored as (n, 2, H, W): keep the two
    alike.
    """
    n_images, height, row_size = pred.shape
    width = row_size // 2
    columns = np.empty((4, width), np.float32)
    squares = np.empty((4, width), np.float64)
    segment_columns = np.empty((3, width), np.int16)
    for image in range(n_images):
        columns[:] = 0
        squares[:] = 0
        segment_columns[:] = 0
        for y in range(height):
            true_row = truth[image, y]
            pred_row = pred[image, y]
            for x in range(width):
                true_central, true_companion = true_row[2 * x], true_row[2 * x + 1]
                pred_central, pred_companion = pred_row[2 * x], pred_row[2 * x + 1]
                columns[0, x] += true_central
                columns[1, x] += true_companion
                columns[2, x] += pred_central
                columns[3, x] += pred_companion
                # Squares in float64: no subnormal products, which are slow to compute.
                central64, companion64 = np.float64(true_central), np.float64(true_companion)
                error_central = np.float64(pred_central) - central64
                error_companion = np.float64(pred_companion) - companion64
                squares[0, x] += central64 * central64
                squares[1, x] += companion64 * companion64
                squares[2, x] += error_central * error_central
                squares[3, x] += error_companion * error_companion
                in_true = np.int16(true_central >= max(true_companion, above))
                in_pred = np.int16(pred_central >= max(pred_companion, above))
                segment_columns[0, x] += in_true
                segment_columns[1, x] += in_pred
                segment_columns[2, x] += in_true & in_pred
        _add_columns(columns, squares, segment_columns, sums[image], counts[image])


@_compile
def _sums_planar_truth(truth, pred, above, sums, counts):  # noqa: ANN001, ANN202
    """``_sums_interleaved_truth`` for a truth stored as (n, 2, H, W), as in the FITS files.

    Reading the planes as they are saves interleaving them, which costs more than the loop.
    """
    n_images, height, row_size = pred.shape
    width = row_size // 2
    columns = np.empty((4, width), np.float32)
    squares = np.empty((4, width), np.float64)
    segment_columns = np.empty((3, width), np.int16)
    for image in range(n_images):
        columns[:] = 0
        squares[:] = 0
        segment_columns[:] = 0
        for y in range(height):
            central_row = truth[image, 0, y]
            companion_row = truth[image, 1, y]
            pred_row = pred[image, y]
            for x in range(width):
                true_central, true_companion = central_row[x], companion_row[x]
                pred_central, pred_companion = pred_row[2 * x], pred_row[2 * x + 1]
                columns[0, x] += true_central
                columns[1, x] += true_companion
                columns[2, x] += pred_central
                columns[3, x] += pred_companion
                # Squares in float64: no subnormal products, which are slow to compute.
                central64, companion64 = np.float64(true_central), np.float64(true_companion)
                error_central = np.float64(pred_central) - central64
                error_companion = np.float64(pred_companion) - companion64
                squares[0, x] += central64 * central64
                squares[1, x] += companion64 * companion64
                squares[2, x] += error_central * error_central
                squares[3, x] += error_companion * error_companion
                in_true = np.int16(true_central >= max(true_companion, above))
                in_pred = np.int16(pred_central >= max(pred_companion, above))
                segment_columns[0, x] += in_true
                segment_columns[1, x] += in_pred
                segment_columns[2, x] += in_true & in_pred
        _add_columns(columns, squares, segment_columns, sums[image], counts[image])


@_compile
def _add_columns(columns, squares, segment_columns, sums, counts):  # noqa: ANN001, ANN202
    """The totals of one stamp's column accumulators, in float64 and int64."""
    for quantity in range(columns.shape[0]):
        total = 0.0
        total_squares = 0.0
        for x in range(columns.shape[1]):
            total += columns[quantity, x]
            total_squares += squares[quantity, x]
        sums[quantity] = total
        sums[4 + quantity] = total_squares
    for quantity in range(segment_columns.shape[0]):
        count = 0
        for x in range(segment_columns.shape[1]):
            count += segment_columns[quantity, x]
        counts[quantity] = count


def image_statistics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """The per-blend sums every score is made of, from (N, H, W, 2) truth and predictions.

    Per galaxy, (N, 2) float64: ``true_flux`` and ``pred_flux`` (sums of the images, e-/s),
    ``true_power`` (sum of true^2) and ``squared_error`` (sum of (predicted - true)^2).
    Per blend, (N,) int64: the pixel counts of the central segment (``ISOPHOTE``) in the
    truth, in the prediction and in both.
    """
    n_images, height, width, _ = np.shape(y_true)
    sums = np.empty((n_images, 8))
    counts = np.empty((n_images, len(SEGMENT_COUNTS)), dtype=np.int64)

    def chunk(start: int) -> None:
        stop = min(start + CHUNK_IMAGES, n_images)
        pred = np.ascontiguousarray(y_pred[start:stop], dtype=np.float32)
        pred = pred.reshape(-1, height, width * N_CHANNELS)
        truth = y_true[start:stop]
        planes = np.transpose(truth, (0, 3, 1, 2))
        # Copies are per chunk: none for native float32, a byte swap for FITS memory maps.
        if planes.flags.c_contiguous:  # the truth as stored in FITS: (N, 2, H, W)
            planes = np.ascontiguousarray(planes, dtype=np.float32)
            _sums_planar_truth(planes, pred, ISOPHOTE_ABOVE, sums[start:stop], counts[start:stop])
        else:
            rows = np.ascontiguousarray(truth, dtype=np.float32).reshape(pred.shape)
            _sums_interleaved_truth(
                rows, pred, ISOPHOTE_ABOVE, sums[start:stop], counts[start:stop]
            )

    starts = range(0, n_images, CHUNK_IMAGES)
    threads = min(MAX_THREADS, len(starts), os.cpu_count() or 1)
    if threads > 1:
        # The loops release the GIL: chunks run side by side on the free cores.
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(chunk, starts))
    else:
        for start in starts:
            chunk(start)
    stats = {name: sums[:, column : column + 2] for name, column in SUM_COLUMNS.items()}
    stats.update({name: counts[:, index] for index, name in enumerate(SEGMENT_COUNTS)})
    return stats
