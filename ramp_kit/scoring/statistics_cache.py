"""The per-image statistics of the last scored pair of arrays, shared by the score types.

ramp-workflow scores a step by calling each score type in turn on the same two arrays
(``rampwf.utils.scoring.score_matrix``: every ``score_function`` reads ``.y_pred`` of the
same ground-truth and prediction objects), and so does the worker
(``server.engine.scoring_step.score_rows``). The first score type computes every statistic
the arrays allow in one pass; the next ones find them here (``shared_image_statistics``).

A hit needs the very same two array objects (held by weak references, so that a freed
array's id reused by a new one cannot match), the same shape, dtype, strides and data
address, and the same fingerprint: a sample of 16 values on the middle row of every image
of both arrays. Hashing whole arrays would cost as much as the pass it saves, so an in-place
change that leaves every sampled value as it was goes unnoticed: call
``clear_statistics_cache()`` after editing scored arrays in place, pixel by pixel. Writing
whole images, rescaling or refilling an array changes the fingerprint.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from ramp_kit.scoring.statistics import ALL_GROUPS, CHANNELS, FLUX, OVERLAP, image_statistics

# Groups whose values depend on the mask threshold of the truth images.
THRESHOLD_GROUPS = frozenset({CHANNELS, OVERLAP})
FINGERPRINT_COLUMNS = 8


@dataclass(frozen=True)
class CachedStatistics:
    """The statistics of one (y_true, y_pred) pair and what they are valid for."""

    true_ref: weakref.ref
    pred_ref: weakref.ref
    layout: tuple
    fingerprint: bytes
    mask_threshold: float | None
    stats: dict[str, np.ndarray]

    def same_arrays(self, y_true: np.ndarray, y_pred: np.ndarray) -> bool:
        """Whether the arrays are the ones these statistics were computed on, unchanged."""
        return (
            self.true_ref() is y_true
            and self.pred_ref() is y_pred
            and self.layout == layout(y_true, y_pred)
            and self.fingerprint == fingerprint(y_true, y_pred)
        )

    def groups_for(self, mask_threshold: float | None) -> set[str]:
        """The cached groups valid for a call with ``mask_threshold``."""
        groups = groups_of(self.stats)
        if mask_threshold is not None and mask_threshold != self.mask_threshold:
            groups -= THRESHOLD_GROUPS
        return groups


_lock = threading.Lock()
_last: CachedStatistics | None = None


def shared_image_statistics(
    y_true: np.ndarray, y_pred: np.ndarray, mask_threshold: float | None, needs: set[str]
) -> dict[str, np.ndarray]:
    """``image_statistics`` of the arrays, reusing those of the previous call when valid.

    New arrays get every group the call can compute (the mask groups need a threshold) in
    one pass, for the score types that follow on the same arrays: one pass for the four
    scores of a step, at the price of a full pass for a lone score (ramp-workflow's bagging
    scores each type on fresh arrays). A call on the same arrays that needs a missing group
    (the flux error first, then an IoU) computes every group still missing.
    The arrays returned are read-only: they are handed to the next score type as they are.
    """
    global _last
    entry = _last
    computable = set(ALL_GROUPS if mask_threshold is not None else {FLUX})
    kept: dict[str, np.ndarray] = {}
    threshold = mask_threshold
    if entry is not None and entry.same_arrays(y_true, y_pred):
        valid = entry.groups_for(mask_threshold)
        if needs <= valid:
            return entry.stats
        groups = (needs | computable) - valid
        kept = {key: value for key, value in entry.stats.items() if group_of(key) in valid}
        if mask_threshold is None:
            threshold = entry.mask_threshold
    else:
        groups = needs | computable
    stats = image_statistics(y_true, y_pred, mask_threshold, groups)
    for values in stats.values():
        values.setflags(write=False)
    stats.update(kept)
    try:
        true_ref, pred_ref = weakref.ref(y_true), weakref.ref(y_pred)
    except TypeError:  # not weak-referenceable (not an ndarray): nothing to key on
        return stats
    with _lock:
        _last = CachedStatistics(
            true_ref=true_ref,
            pred_ref=pred_ref,
            layout=layout(y_true, y_pred),
            fingerprint=fingerprint(y_true, y_pred),
            mask_threshold=threshold,
            stats=stats,
        )
    return stats


def clear_statistics_cache() -> None:
    """Forget the cached statistics: the next score recomputes them from the arrays."""
    global _last
    with _lock:
        _last = None


# The per-image arrays of each statistics group.
GROUP_KEYS = {
    CHANNELS: ("intersection", "union"),
    OVERLAP: ("overlap_intersection", "overlap_union"),
    FLUX: ("flux_inside", "true_flux"),
}


def group_of(key: str) -> str:
    """The statistics group that yields the array ``key``."""
    return next(group for group, keys in GROUP_KEYS.items() if key in keys)


def groups_of(stats: dict[str, np.ndarray]) -> set[str]:
    """The statistics groups present in ``stats``."""
    return {group_of(key) for key in stats}


def layout(y_true: np.ndarray, y_pred: np.ndarray) -> tuple:
    """Shape, dtype, strides and data address of both arrays."""
    return tuple(
        (array.shape, array.dtype.str, array.strides, array.__array_interface__["data"][0])
        for array in (y_true, y_pred)
    )


def fingerprint(y_true: np.ndarray, y_pred: np.ndarray) -> bytes:
    """Bytes of a few values on the middle row of every image of both arrays."""
    parts = []
    for array in (y_true, y_pred):
        _, height, width, _ = array.shape
        step = max(1, width // FINGERPRINT_COLUMNS)
        parts.append(np.ascontiguousarray(array[:, height // 2, ::step]).tobytes())
    return b"".join(parts)
