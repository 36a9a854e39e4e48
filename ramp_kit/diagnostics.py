"""Where a deblender fails: the official score broken down by blend properties.

``diagnostics(y_true, y_pred)`` bins the blends by the separation of the two galaxies, their
magnitude difference and the central galaxy's magnitude, and gives the official score in each
bin. The properties are measured on the truth images alone (light-weighted centroids and
fluxes summed over the stamp), so the breakdown needs nothing but the two arrays, and every
submission scored on the same test set gets the same bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ramp_kit.constants import ZERO_POINT
from ramp_kit.scoring.base import BlendScoreType
from ramp_kit.scoring.central_flux_error import CentralFluxError
from ramp_kit.scoring.statistics import CENTRAL, COMPANION

CHUNK_IMAGES = 64  # truth stamps converted to native float32 at a time


@dataclass(frozen=True)
class BlendProperties:
    """Per-blend properties measured on the truth images, (N,) float64 each."""

    separation: np.ndarray  # pixels between the two centroids
    central_magnitude: np.ndarray  # AB
    magnitude_difference: np.ndarray  # companion - central: > 0 when the companion is fainter


# (title of the breakdown, property, cuts between the bins).
BREAKDOWNS = (
    ("by separation (px)", "separation", (4.0, 8.0, 12.0, 16.0, 24.0)),
    (
        "by magnitude difference (companion - central)",
        "magnitude_difference",
        (-1.0, -0.5, 0.0, 0.5, 1.0),
    ),
    ("by central magnitude (AB)", "central_magnitude", (20.0, 21.0, 22.0, 23.0)),
)


def fluxes_and_centroids(y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fluxes (N, 2) and light-weighted centroids (N, 2 for x and y, 2) of truth images.

    Both are measured inside the stamp. A galaxy without positive flux has no centroid: NaN.
    """
    n_images, height, width, _ = np.shape(y_true)
    flux = np.empty((n_images, 2))
    first_moments = np.empty((n_images, 2, 2))  # (blend, x or y, galaxy)
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    for start in range(0, n_images, CHUNK_IMAGES):
        stop = min(start + CHUNK_IMAGES, n_images)
        # Truth images may be big-endian, transposed memory maps: converted per chunk.
        truth = np.ascontiguousarray(y_true[start:stop], dtype=np.float32)
        columns = truth.sum(axis=1, dtype=np.float64)  # (n, W, 2)
        rows = truth.sum(axis=2, dtype=np.float64)  # (n, H, 2)
        flux[start:stop] = columns.sum(axis=1)
        first_moments[start:stop, 0] = np.einsum("nwc,w->nc", columns, xs)
        first_moments[start:stop, 1] = np.einsum("nhc,h->nc", rows, ys)
    positive = (flux > 0)[:, None, :]
    safe_flux = np.where(positive, flux[:, None, :], 1.0)
    return flux, np.where(positive, first_moments / safe_flux, np.nan)


def blend_properties(y_true: np.ndarray) -> BlendProperties:
    """Separation, central magnitude and magnitude difference of (N, H, W, 2) truth images.

    A galaxy without positive flux in the stamp has no magnitude or centroid: NaN, and its
    blend falls in no bin of the breakdowns that need them.
    """
    flux, centroids = fluxes_and_centroids(y_true)
    offset = centroids[..., COMPANION] - centroids[..., CENTRAL]
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitudes = np.where(flux > 0, ZERO_POINT - 2.5 * np.log10(flux), np.nan)
    return BlendProperties(
        separation=np.hypot(offset[:, 0], offset[:, 1]),
        central_magnitude=magnitudes[:, CENTRAL],
        magnitude_difference=magnitudes[:, COMPANION] - magnitudes[:, CENTRAL],
    )


def bin_labels(cuts: Sequence[float]) -> list[str]:
    """Labels of the bins that ``cuts`` make: "< a", "[a, b)", ..., ">= z"."""
    labels = [f"< {cuts[0]:g}"]
    labels += [f"[{low:g}, {high:g})" for low, high in zip(cuts[:-1], cuts[1:], strict=True)]
    labels.append(f">= {cuts[-1]:g}")
    return labels


def breakdown(
    title: str,
    score_type: BlendScoreType,
    per_blend: np.ndarray,
    values: np.ndarray,
    cuts: Sequence[float],
) -> dict:
    """The score of the blends in each bin of ``values``; empty bins are left out."""
    labels = bin_labels(cuts)
    known = ~np.isnan(values)
    bin_of = np.digitize(values[known], cuts)  # 0 below cuts[0], len(cuts) at or above the last
    scores, kept = per_blend[known], {"bins": [], "values": [], "counts": []}
    for index, label in enumerate(labels):
        in_bin = bin_of == index
        count = int(np.count_nonzero(in_bin))
        if count == 0:
            continue
        kept["bins"].append(label)
        kept["values"].append(score_type.aggregate(scores[in_bin]))
        kept["counts"].append(count)
    return {"title": title, "score": score_type.name, **kept}


def diagnostics(
    y_true: np.ndarray, y_pred: np.ndarray, score_type: BlendScoreType | None = None
) -> list[dict]:
    """The score (the official one by default) by separation, magnitude difference and
    central magnitude: a list of ``{"title", "score", "bins", "values", "counts"}``.

    ``values[i]`` is the score of the ``counts[i]`` blends in bin ``bins[i]``.
    """
    score_type = CentralFluxError() if score_type is None else score_type
    per_blend = score_type.per_blend(y_true, y_pred)
    properties = blend_properties(y_true)
    return [
        breakdown(
            f"{score_type.name.replace('_', ' ')} {title}",
            score_type,
            per_blend,
            getattr(properties, name),
            cuts,
        )
        for title, name, cuts in BREAKDOWNS
    ]
