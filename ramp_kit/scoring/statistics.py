"""Per-image statistics behind every score, computed in one chunked pass over the test set.

Reading 2,000 truth and prediction stamps (2 x 250 MiB) is most of the cost of scoring, so
the score types do not each walk the arrays: one pass computes the per-image counts that the
requested scores need (``score_together`` in ``scoring.base`` shares a pass between them, and
``scoring.statistics_cache`` shares it between score types called one after the other).
The pass walks a few images at a time through scratch buffers allocated once per call: the
masks of a chunk stay in cache, and no fresh allocation page-faults inside the loop.
No step calls BLAS: its threads, spinning on a loaded machine, cost more than they gave.
"""

from __future__ import annotations

import numpy as np

# A pixel is predicted to belong to a galaxy when its probability is strictly above one half:
# more likely in than out. A probability of exactly 0.5 (undecided) counts as background.
PROBABILITY_CUT = 0.5
# 16 stamps of 128 x 128 x 2 float32 are 2 MiB of truth and 2 MiB of probabilities read per
# step, and 1.5 MiB of masks that stay in cache for the counts; smaller chunks spend more in
# per-call overheads (some 25 NumPy calls a chunk), larger ones spill out of the cache.
CHUNK_IMAGES = 16
N_CHANNELS = 2

# Groups of statistics a score may ask for, and the per-image arrays each group yields.
CHANNELS = "channels"  # "intersection", "union": (N, 2) pixel counts, central and companion
OVERLAP = "overlap"  # "overlap_intersection", "overlap_union": (N,) pixel counts
FLUX = "flux"  # "flux_inside", "true_flux": (N,) float64, e-/s
ALL_GROUPS = frozenset({CHANNELS, OVERLAP, FLUX})

# The three masks of a chunk, stacked on axis 1: true, predicted, and both.
TRUE, PRED, BOTH = 0, 1, 2

# The word-wise counters read a mask as uint64 words of 8 mask bytes (4 pixels x 2 channels),
# add them in groups of WORD_GROUP words (each byte lane then holds at most WORD_GROUP < 256:
# no carry between lanes), spread the lanes to 16 bits and add the groups.
WORD_GROUP = 128
EVEN_BYTES = np.uint64(0x00FF00FF00FF00FF)
SUM_16BIT_LANES = np.uint64(0x0001000100010001)


def count_pixels(masks: np.ndarray) -> np.ndarray:
    """True pixels per channel of (..., pixels, 2) bool masks, as (..., 2) int64."""
    if not (masks.flags.c_contiguous and words_countable(masks.shape[-2] * N_CHANNELS)):
        return np.count_nonzero(masks, axis=-2).astype(np.int64)
    # A pixel's channels are an even byte (central) and the odd byte after it.
    return count_even_odd_bytes(masks.reshape(*masks.shape[:-2], -1))


def count_overlap(masks: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Pixels whose two channels are both True in (..., pixels, 2) bool masks, as (...) int64.

    ``scratch``, a bool array of at least ``masks.size / 2`` elements, saves an allocation.
    """
    pixels = masks.shape[-2]
    if not (masks.flags.c_contiguous and words_countable(pixels)):
        return np.count_nonzero(masks[..., 0] & masks[..., 1], axis=-1).astype(np.int64)
    if scratch is None:
        scratch = np.empty(masks.size // N_CHANNELS, dtype=bool)
    both = scratch.reshape(-1)[: masks.size // N_CHANNELS].reshape(masks.shape[:-1])
    # A pixel's two mask bytes read as one uint16 are 0x0101 when both channels hold: a
    # contiguous comparison instead of a strided AND of the channels.
    np.equal(masks.view(np.uint16)[..., 0], 0x0101, out=both)
    return count_even_odd_bytes(both).sum(axis=-1)


def words_countable(n_bytes: int) -> bool:
    """Whether rows of ``n_bytes`` bool fit ``count_even_odd_bytes``."""
    return n_bytes % (8 * WORD_GROUP) == 0 and n_bytes < 2**17


def count_even_odd_bytes(flags: np.ndarray) -> np.ndarray:
    """True flags at even and at odd positions of (..., n_bytes) bool, as (..., 2) int64."""
    lanes = word_lane_sums(flags.view(np.uint64))
    low = add_16bit_lanes(lanes & EVEN_BYTES)
    high = add_16bit_lanes((lanes >> np.uint64(8)) & EVEN_BYTES)
    # Even positions are the low byte of each 16 bits on little-endian machines.
    even, odd = (low, high) if np.little_endian else (high, low)
    return np.stack([even, odd], axis=-1)


def word_lane_sums(words: np.ndarray) -> np.ndarray:
    """(..., n_words) uint64 of 0/1 bytes -> (..., n_groups) per-byte-lane sums of each group."""
    grouped = words.reshape(*words.shape[:-1], -1, WORD_GROUP)
    return np.add.reduce(grouped, axis=-1)


def add_16bit_lanes(group_lanes: np.ndarray) -> np.ndarray:
    """Total of the four 16-bit lanes of (..., n_groups) uint64, over the groups, as int64."""
    lanes = np.add.reduce(group_lanes, axis=-1)  # each 16-bit lane <= n_bytes / 2 < 2**16
    # The top 16 bits of lanes x 0x0001000100010001 are the sum of the four lanes.
    return ((lanes * SUM_16BIT_LANES) >> np.uint64(48)).astype(np.int64)


def intersection_over_union(intersection: np.ndarray, union: np.ndarray) -> np.ndarray:
    """IoU from pixel counts; two empty masks agree perfectly and score 1."""
    return np.divide(intersection, union, out=np.ones(union.shape), where=union > 0)


def image_statistics(
    y_true: np.ndarray, y_pred: np.ndarray, mask_threshold: float | None, needs: set[str]
) -> dict[str, np.ndarray]:
    """The per-image statistics of the groups in ``needs`` (``CHANNELS``, ``OVERLAP``, ``FLUX``).

    ``y_true`` (N, H, W, 2) noiseless images, whose masks are ``y_true > mask_threshold``;
    ``y_pred`` (N, H, W, 2) probabilities, whose masks are ``y_pred > PROBABILITY_CUT``.
    Intersections are counted on the logical AND of the masks and unions as
    |T| + |P| - |T AND P| (adding boolean arrays is an OR, which once made a "union" that
    counted the intersection once, hence I / (U - I)).
    """
    n_images, height, width, _ = y_true.shape
    pixels = height * width
    chunk = min(CHUNK_IMAGES, n_images)
    stats: dict[str, np.ndarray] = {}
    if CHANNELS in needs:
        stats["intersection"] = np.empty((n_images, N_CHANNELS), dtype=np.int64)
        stats["union"] = np.empty((n_images, N_CHANNELS), dtype=np.int64)
    if OVERLAP in needs:
        stats["overlap_intersection"] = np.empty(n_images, dtype=np.int64)
        stats["overlap_union"] = np.empty(n_images, dtype=np.int64)
    if FLUX in needs:
        stats["flux_inside"] = np.empty(n_images)
        stats["true_flux"] = np.empty(n_images)
        central = np.empty((chunk, pixels), dtype=np.uint16)
        # The predicted central mask as 0/1 on both channels of each pixel: its dot product
        # with a truth image is the blend's flux inside the mask.
        weights = np.empty((chunk, pixels * N_CHANNELS), dtype=np.float32)
    masks = np.empty((chunk, 3, pixels, N_CHANNELS), dtype=bool)
    overlap_scratch = np.empty(masks.shape[:-1], dtype=bool) if OVERLAP in needs else None

    for start in range(0, n_images, chunk):
        stop = min(start + chunk, n_images)
        n = stop - start
        # Truth images may be big-endian memory maps read from FITS: convert per chunk.
        truth = np.ascontiguousarray(y_true[start:stop], dtype=np.float32)
        probabilities = np.ascontiguousarray(y_pred[start:stop], dtype=np.float32)
        chunk_masks = masks[:n]
        pred = chunk_masks[:, PRED]
        np.greater(probabilities.reshape(n, pixels, N_CHANNELS), PROBABILITY_CUT, out=pred)
        if CHANNELS in needs or OVERLAP in needs:
            true = chunk_masks[:, TRUE]
            np.greater(truth.reshape(n, pixels, N_CHANNELS), mask_threshold, out=true)
            np.logical_and(true, pred, out=chunk_masks[:, BOTH])
        if CHANNELS in needs:
            counts = count_pixels(chunk_masks)
            stats["intersection"][start:stop] = counts[:, BOTH]
            stats["union"][start:stop] = counts[:, TRUE] + counts[:, PRED] - counts[:, BOTH]
        if OVERLAP in needs:
            counts = count_overlap(chunk_masks, overlap_scratch)
            stats["overlap_intersection"][start:stop] = counts[:, BOTH]
            union = counts[:, TRUE] + counts[:, PRED] - counts[:, BOTH]
            stats["overlap_union"][start:stop] = union
        if FLUX in needs:
            # A pixel's two mask bytes read as one uint16: keep the central byte (the first,
            # the low one on little-endian machines) and copy it to both bytes.
            pair_words = pred.view(np.uint16)[..., 0]
            pair = central[:n]
            if np.little_endian:
                np.bitwise_and(pair_words, 1, out=pair)
            else:
                np.right_shift(pair_words, 8, out=pair)
            np.multiply(pair, 0x0101, out=pair)
            chunk_weights = weights[:n]
            np.copyto(chunk_weights, pair.view(bool).reshape(n, pixels * N_CHANNELS))
            # Column sums in float32 (H terms each), then the columns in float64: closer to
            # the exact sums than one float32 accumulator per image.
            rows = (n, height, width * N_CHANNELS)
            stamps = truth.reshape(rows)
            inside = np.einsum("ijk,ijk->ik", chunk_weights.reshape(rows), stamps)
            stats["flux_inside"][start:stop] = inside.sum(axis=1, dtype=np.float64)
            columns = np.add.reduce(stamps, axis=1)
            stats["true_flux"][start:stop] = columns[:, 0::2].sum(axis=1, dtype=np.float64)
    return stats
