"""Set the simulator's blends beside the published test blends of Boucaud et al. 2020.

    python docs/compare_with_paper.py [--n 20000] [--seed 2019] [--out docs/data_vs_paper.md]
    python docs/compare_with_paper.py --release DIR [--split train]
    python docs/compare_with_paper.py --derive --paper output_catalog.csv

The paper's table (MNRAS 491, 2481) is ``paper_plots/output_catalog.csv`` of its public code,
github.com/aboucaud/coindeblend: one row per test blend of two CANDELS F160W galaxies.

- ``--derive`` reads it and rewrites ``ramp_kit/sim_tables.py``: the distributions the simulator
  draws galaxies from (magnitudes, morphological classes per magnitude, half-light radii per
  class and magnitude) and the paper's summary statistics. The kit never reads the paper's file.
- Otherwise the script draws the galaxies of ``--n`` blends exactly as the simulator does for a
  release (or reads a release's ``catalogue.fits`` with ``--release``), and writes a Markdown
  table of the kit's statistics beside the paper's. It exits with status 1 when a median is
  more than 15 % away from the paper's.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from scipy.special import ndtr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ramp_kit.constants import PUBLIC_SEED  # noqa: E402
from ramp_kit.sim_stats import (  # noqa: E402
    DISTRIBUTIONS,
    FRACTIONS,
    QUANTILES,
    blend_statistics,
    quantile_key,
)

TABLES_FILE = REPO / "ramp_kit" / "sim_tables.py"
MEDIAN_TOLERANCE = 0.15
# The morphological classes of the paper's table, and the kit's names for them.
PAPER_CLASSES = {"sph": "spheroid", "sphd": "bulge+disk", "disk": "disk", "irr": "irregular"}
MAGNITUDE_PROBABILITIES = np.linspace(0.0, 1.0, 41)
MAGNITUDE_BIN_EDGES = (18.0, 20.0, 21.0, 21.5, 22.0, 22.5, 23.0)
# Dense in the tails, where the close blends come from (larger radius > 4 x the smaller).
RADIUS_PROBABILITIES = (0, 0.01, 0.03, 0.06) + tuple(np.arange(1, 10) / 10) + (0.94, 0.97, 0.99, 1)
# 14 of the paper's 9,552 galaxies are larger; capping them keeps every galaxy's FFT small.
MAX_RADIUS = 24.0  # px
LOG_MAX_RADIUS = float(np.log10(MAX_RADIUS))


def read_paper(path: Path) -> dict[str, np.ndarray]:
    """The paper's table with the kit's column names (``ramp_kit.sim_stats.COLUMNS``)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "g1_rad" not in rows[0]:
        raise SystemExit(f"{path}: expected the paper's output_catalog.csv (g1_mag, g1_rad, ...)")

    def column(name: str) -> np.ndarray:
        return np.array([float(row[name]) for row in rows])

    return {
        "central_mag": column("g1_mag"),
        "companion_mag": column("g2_mag"),
        "central_hlr": column("g1_rad"),
        "companion_hlr": column("g2_rad"),
        "separation": column("distance"),
        "central_morphology": np.array([PAPER_CLASSES[row["g1_type"]] for row in rows]),
        "companion_morphology": np.array([PAPER_CLASSES[row["g2_type"]] for row in rows]),
    }


def _strictly_increasing(values: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Rounded quantiles, nudged apart where rounding made two equal, so they can be inverted."""
    values = np.round(values, 4)
    for i in range(1, len(values)):
        values[i] = max(values[i], values[i - 1] + step)
    return values


def smoothed_quantiles(
    sample: np.ndarray, probabilities: tuple[float, ...] | np.ndarray, min_bandwidth: float
) -> np.ndarray:
    """Quantiles of a Gaussian kernel density estimate of ``sample``, within its range.

    The paper's 9,552 galaxies are about 1,050 distinct ones, each used in several blends: the
    raw quantiles are steps. The kernel (Silverman's bandwidth, at least ``min_bandwidth``)
    smooths them; the density is cut at the sample's minimum and maximum.
    """
    sample = np.asarray(sample, dtype=float)
    spread = np.std(sample)
    interquartile = np.subtract(*np.quantile(sample, [0.75, 0.25])) / 1.34
    if interquartile > 0:
        spread = min(spread, interquartile)
    bandwidth = max(0.9 * spread * len(sample) ** -0.2, min_bandwidth)
    grid = np.linspace(sample.min(), sample.max(), 2001)
    cdf = np.mean(ndtr((grid[:, None] - sample[None, :]) / bandwidth), axis=1)
    cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0])
    return _strictly_increasing(np.interp(probabilities, cdf, grid))


def derive_tables(paper: dict[str, np.ndarray]) -> dict[str, object]:
    """The distributions the simulator draws from, as plain tuples."""
    morphologies = tuple(PAPER_CLASSES.values())
    # The central magnitude follows the parent distribution; the companion's is the same,
    # restricted to |Δmag| < 2 around it (the simulator draws it that way).
    magnitudes = smoothed_quantiles(paper["central_mag"], MAGNITUDE_PROBABILITIES, 0.05)
    # Every galaxy, central or companion, gives its class and radius at its magnitude.
    mag = np.concatenate([paper["central_mag"], paper["companion_mag"]])
    log_hlr = np.log10(np.concatenate([paper["central_hlr"], paper["companion_hlr"]]))
    classes = np.concatenate([paper["central_morphology"], paper["companion_morphology"]])
    n_bins = len(MAGNITUDE_BIN_EDGES) - 1
    bins = np.clip(np.searchsorted(MAGNITUDE_BIN_EDGES, mag, side="right") - 1, 0, n_bins - 1)
    probabilities = []
    for b in range(n_bins):
        counts = np.array([np.sum((bins == b) & (classes == m)) for m in morphologies])
        probabilities.append(tuple(np.round(counts / counts.sum(), 4)))
    log_radii = tuple(
        tuple(
            tuple(
                smoothed_quantiles(
                    np.minimum(log_hlr[(bins == b) & (classes == morphology)], LOG_MAX_RADIUS),
                    RADIUS_PROBABILITIES,
                    min_bandwidth=0.04,  # dex: 10 % in radius
                )
            )
            for b in range(n_bins)
        )
        for morphology in morphologies
    )
    return {
        "PAPER_BLENDS": len(paper["separation"]),
        "MORPHOLOGIES": morphologies,
        "MAGNITUDE_PROBABILITIES": tuple(np.round(MAGNITUDE_PROBABILITIES, 4)),
        "CENTRAL_MAGNITUDES": tuple(magnitudes),
        "MAGNITUDE_BIN_EDGES": MAGNITUDE_BIN_EDGES,
        "MORPHOLOGY_PROBABILITIES": tuple(probabilities),
        "RADIUS_PROBABILITIES": RADIUS_PROBABILITIES,
        "LOG10_RADII": log_radii,
        "PAPER_STATISTICS": {
            key: round(value, 4) for key, value in blend_statistics(paper, morphologies).items()
        },
    }


def _format_numbers(values: tuple, indent: str) -> list[str]:
    """A tuple of numbers on lines of at most 99 characters, as ``ruff format`` leaves them."""
    items = [f"{float(v):g}," for v in values]
    lines, line = [], indent
    for item in items:
        if len(line) + len(item) + 1 > 99 and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += item + " "
    lines.append(line.rstrip())
    return lines


def _format_value(value: object, indent: str) -> list[str]:
    inner = indent + "    "
    if isinstance(value, int):
        return [f"{value}"]
    if isinstance(value, dict):
        body = [f'{inner}"{key}": {item:g},' for key, item in value.items()]
        return ["{", *body, indent + "}"]
    if value and isinstance(value[0], str):
        return ["(", *[f'{inner}"{item}",' for item in value], indent + ")"]
    if value and isinstance(value[0], tuple):
        body = []
        for item in value:
            nested = _format_value(item, inner)
            body.append(inner + nested[0])
            body.extend(nested[1:-1])
            body.append(nested[-1] + ",")
        return ["(", *body, indent + ")"]
    return ["(", *_format_numbers(value, inner), indent + ")"]


def write_tables(tables: dict[str, object], path: Path = TABLES_FILE) -> None:
    """Write the tables as a Python module (the kit's own copy of the paper's distributions)."""
    lines = [
        '"""The distributions the simulator draws galaxies from, from the paper\'s test set.',
        "",
        "Generated from the published test blends of Boucaud et al. 2020 (MNRAS 491, 2481;",
        "``paper_plots/output_catalog.csv`` of github.com/aboucaud/coindeblend) by",
        "``python docs/compare_with_paper.py --derive --paper output_catalog.csv``: do not edit.",
        "",
        "- CENTRAL_MAGNITUDES: quantiles of the central galaxies' F160W magnitude (AB) at",
        "  MAGNITUDE_PROBABILITIES (its inverse cumulative distribution).",
        "- MORPHOLOGY_PROBABILITIES[b]: the share of each of MORPHOLOGIES (the paper's classes",
        "  sph, sphd, disk, irr) among the galaxies of magnitude bin b (MAGNITUDE_BIN_EDGES).",
        "- LOG10_RADII[m][b]: quantiles of log10 of the half-light radius (px of 0.06 arcsec,",
        f"  capped at {MAX_RADIUS:g} px) of class m in magnitude bin b, at RADIUS_PROBABILITIES.",
        "- PAPER_STATISTICS: ``ramp_kit.sim_stats.blend_statistics`` of the paper's blends.",
        '"""',
        "",
        "# fmt: off",
    ]
    for name, value in tables.items():
        formatted = _format_value(value, "")
        lines.append(f"{name} = {formatted[0]}")
        lines.extend(formatted[1:])
    lines.append("# fmt: on")
    path.write_text("\n".join(lines) + "\n")


def simulated_catalogue(n: int, seed: int) -> dict[str, np.ndarray]:
    """The catalogue columns of the first ``n`` train blends of ``seed``, drawing no pixel."""
    from ramp_kit.simulate import SPLIT_CODES, blend_galaxies

    pairs = [blend_galaxies(seed, SPLIT_CODES["train"], index) for index in range(n)]
    columns: dict[str, np.ndarray] = {}
    for role, which in (("central", 0), ("companion", 1)):
        columns[f"{role}_mag"] = np.array([pair[which].mag for pair in pairs])
        columns[f"{role}_hlr"] = np.array([pair[which].hlr for pair in pairs])
        columns[f"{role}_morphology"] = np.array([pair[which].morphology for pair in pairs])
    columns["separation"] = np.array([np.hypot(c.x - g.x, c.y - g.y) for g, c in pairs])
    return columns


def release_catalogue(release: Path, split: str) -> dict[str, np.ndarray]:
    from ramp_kit.io import read_catalogue

    table = read_catalogue(release / "data" / split)
    return {name: np.asarray(table[name]) for name in table.colnames}


def markdown(kit: dict[str, float], source: str) -> tuple[str, bool]:
    """The comparison table, and whether every median is within MEDIAN_TOLERANCE."""
    from ramp_kit import sim_tables

    paper = sim_tables.PAPER_STATISTICS
    low, mid, high = QUANTILES
    lines = [
        "# The kit's blends beside the paper's",
        "",
        f"Kit: {source}. Paper: the {sim_tables.PAPER_BLENDS:,} published test blends of",
        "Boucaud et al. 2020 (MNRAS 491, 2481), pairs of CANDELS F160W galaxies. Radii are",
        "intrinsic half-light radii in pixels of 0.06″. Made by `docs/compare_with_paper.py`;",
        f"every median must lie within {MEDIAN_TOLERANCE:.0%} of the paper's.",
        "",
        "| quantity | unit | kit median | paper median | median Δ | kit 10–90 % | paper 10–90 % |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    all_close = True
    for name, (label, unit) in DISTRIBUTIONS.items():
        k = [kit[quantile_key(name, q)] for q in (low, mid, high)]
        p = [paper[quantile_key(name, q)] for q in (low, mid, high)]
        delta = k[1] / p[1] - 1.0
        all_close &= abs(delta) <= MEDIAN_TOLERANCE
        lines.append(
            f"| {label} | {unit} | {k[1]:.2f} | {p[1]:.2f} | {delta:+.1%} | "
            f"{k[0]:.2f}–{k[2]:.2f} | {p[0]:.2f}–{p[2]:.2f} |"
        )
    lines += ["", "| fraction | kit | paper |", "| --- | --- | --- |"]
    for name, label in FRACTIONS.items():
        lines.append(f"| {label} | {kit[name]:.1%} | {paper[name]:.1%} |")
    for morphology in sim_tables.MORPHOLOGIES:
        key = f"{morphology}_fraction"
        lines.append(f"| galaxies of class {morphology} | {kit[key]:.1%} | {paper[key]:.1%} |")
    lines += [
        "",
        "How the kit follows the paper: `ramp_kit/sim_tables.py` holds the central magnitude's",
        "distribution, the share of each class per magnitude bin and the radius distribution per",
        "class and magnitude bin, smoothed from the paper's table by `--derive`. The companion's",
        "magnitude is drawn from the same distribution within |Δmag| < 2 of the central one's,",
        "and it is placed uniformly over the annulus between the larger radius and 4 × the",
        "smaller (at most 64 px), or, where that annulus is empty, between 0.8 × its outer radius",
        "and it, as the original blend generator did: that fallback makes the close blends.",
        "Not compared: redshifts (the kit has none) and the light profiles within a class.",
    ]
    return "\n".join(lines) + "\n", all_close


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--derive", action="store_true", help="rewrite ramp_kit/sim_tables.py")
    parser.add_argument("--paper", type=Path, help="the paper's output_catalog.csv (--derive)")
    parser.add_argument("--n", type=int, default=20_000, help="blends to simulate")
    parser.add_argument("--seed", type=int, default=PUBLIC_SEED, help="simulation seed")
    parser.add_argument("--release", type=Path, help="read this release's catalogue instead")
    parser.add_argument("--split", default="train", help="split of --release (train or test)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "data_vs_paper.md")
    args = parser.parse_args(argv)
    if args.derive:
        if args.paper is None:
            parser.error("--derive needs --paper output_catalog.csv (aboucaud/coindeblend)")
        write_tables(derive_tables(read_paper(args.paper)))
        print(f"wrote {TABLES_FILE}")
        return 0
    if args.release is not None:
        catalogue = release_catalogue(args.release, args.split)
        source = f"the {len(catalogue['separation']):,} {args.split} blends of {args.release}"
    else:
        catalogue = simulated_catalogue(args.n, args.seed)
        source = f"the first {args.n:,} train blends of seed {args.seed}"
    from ramp_kit.sim_tables import MORPHOLOGIES

    text, all_close = markdown(blend_statistics(catalogue, MORPHOLOGIES), source)
    args.out.write_text(text)
    print(text)
    if not all_close:
        print(f"a median is more than {MEDIAN_TOLERANCE:.0%} away from the paper's")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
