"""Summary statistics of a set of blends, in the terms of the paper's published test set.

Boucaud et al. 2020 (MNRAS 491, 2481) published one row per test blend: the magnitude, the
half-light radius and the morphological class of both galaxies and their separation.
``blend_statistics`` reduces that table, or a catalogue of the simulator, to the numbers that
``docs/data_vs_paper.md`` sets side by side and that the simulator is matched on.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# The columns read, named as in the simulator's catalogue (``ramp_kit.simulate``).
COLUMNS = (
    "central_mag",
    "companion_mag",
    "central_hlr",
    "companion_hlr",
    "separation",
    "central_morphology",
    "companion_morphology",
)
QUANTILES = (0.1, 0.5, 0.9)
# name: (what it is, unit); each gets its 10 %, 50 % and 90 % quantiles.
DISTRIBUTIONS = {
    "central_mag": ("central galaxy magnitude", "AB mag"),
    "companion_mag": ("companion magnitude", "AB mag"),
    "central_hlr": ("central galaxy half-light radius", "px"),
    "companion_hlr": ("companion half-light radius", "px"),
    "separation": ("separation of the centres", "px"),
    "abs_delta_mag": ("magnitude difference \\|Δmag\\|", "mag"),
    "flux_ratio": ("flux ratio, fainter / brighter", ""),
}
FRACTIONS = {
    "close_fraction": "close blends: separation below the larger half-light radius",
    "unplaceable_fraction": "larger radius above 4 × the smaller (the offset rule's fallback)",
}


def quantile_key(name: str, quantile: float) -> str:
    """The key of one quantile in ``blend_statistics``' result, e.g. ``separation_q50``."""
    return f"{name}_q{round(100 * quantile):02d}"


def blend_statistics(
    catalogue: Mapping[str, np.ndarray], morphologies: tuple[str, ...]
) -> dict[str, float]:
    """Quantiles of each distribution, the fraction of close blends and of each morphology.

    ``catalogue`` maps the names of ``COLUMNS`` to one value per blend; ``morphologies`` are
    the classes counted (their fractions are over both galaxies of every blend).
    """
    missing = [name for name in COLUMNS if name not in catalogue]
    if missing:
        raise KeyError(f"the catalogue lacks the columns {missing}; expected {list(COLUMNS)}")
    mag1, mag2 = (np.asarray(catalogue[f"{role}_mag"], float) for role in ("central", "companion"))
    hlr1, hlr2 = (np.asarray(catalogue[f"{role}_hlr"], float) for role in ("central", "companion"))
    separation = np.asarray(catalogue["separation"], float)
    abs_delta_mag = np.abs(mag2 - mag1)
    values = {
        "central_mag": mag1,
        "companion_mag": mag2,
        "central_hlr": hlr1,
        "companion_hlr": hlr2,
        "separation": separation,
        "abs_delta_mag": abs_delta_mag,
        "flux_ratio": 10.0 ** (-0.4 * abs_delta_mag),
    }
    statistics = {
        quantile_key(name, q): float(np.quantile(values[name], q))
        for name in DISTRIBUTIONS
        for q in QUANTILES
    }
    larger, smaller = np.maximum(hlr1, hlr2), np.minimum(hlr1, hlr2)
    statistics["close_fraction"] = float(np.mean(separation < larger))
    statistics["unplaceable_fraction"] = float(np.mean(larger > 4.0 * smaller))
    roles = ("central", "companion")
    classes = np.concatenate([np.asarray(catalogue[f"{r}_morphology"]).astype(str) for r in roles])
    for morphology in morphologies:
        statistics[f"{morphology}_fraction"] = float(np.mean(classes == morphology))
    return statistics
