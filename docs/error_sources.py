"""Where a fraction-map deblender loses central flux, from the test predictions that
``ramp-test --save-output`` keeps (``training_output/fold_0/y_pred_test.npz``).

A submission whose images are fractions of the noisy blend, Ĉ = f B with B = C + K + n,
errs on the central flux by ΣĈ − ΣC = Σ (f − f_true)(C + K) + Σ f n, with
f_true = C / (C + K): a *signal* part (light given to the wrong galaxy, or lost) and a
*noise* part (sky noise kept). This prints, as a Markdown table, the mean |part| / ΣC of
each, for all blends and for the well-separated ones, and the error by distance to the
stamp centre. The true fractions keep the noise part only, which is their score's floor.

It also prints what the U-Net's per-pixel targets, the shares C / (C + K + s) with a sky
level s, would score applied to the noisy blend, for a few s in units of the sky noise: a
sky level gives the faint outskirts' light to nobody, so too high an s loses flux.

    .venv/bin/python docs/error_sources.py DATA_DIR PREDICTIONS.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ramp_kit import problem  # noqa: E402
from ramp_kit.diagnostics import blend_properties  # noqa: E402

WELL_SEPARATED_PX = 16.0
RINGS_PX = (0, 4, 8, 16, 32, 64, 91)  # 91 px: beyond the stamp's corners
SKY_SHARES = (0.0, 0.01, 0.03, 0.1, 1.0)  # sky levels, in units of the sky noise


def mean_abs_percent(values: np.ndarray) -> str:
    return f"{100 * np.abs(values).mean():.2f}"


def central_error_parts(
    blends: np.ndarray, truth: np.ndarray, central: np.ndarray
) -> dict[str, np.ndarray]:
    """Per blend, (ΣĈ − ΣC) / ΣC and its signal and noise parts (they add up to it)."""
    light = truth.sum(axis=-1)
    fraction = np.divide(central, blends, out=np.zeros_like(blends), where=blends != 0)
    true_fraction = np.divide(truth[..., 0], light, out=np.zeros_like(light), where=light > 0)
    flux = truth[..., 0].sum(axis=(1, 2))
    return {
        "total": (central - truth[..., 0]).sum(axis=(1, 2)) / flux,
        "signal part": ((fraction - true_fraction) * light).sum(axis=(1, 2)) / flux,
        "noise part": (fraction * (blends - light)).sum(axis=(1, 2)) / flux,
        "noise part of the true fractions": (true_fraction * (blends - light)).sum(axis=(1, 2))
        / flux,
    }


def sky_level_errors(
    blends: np.ndarray, truth: np.ndarray, sky_level: float
) -> dict[str, np.ndarray]:
    """Per blend, the central flux error of the shares C / (C + K + s) applied to the noisy
    blend, and the share of the central flux they give to nobody (ΣC − Σ f (C + K)) / ΣC."""
    central, companion = np.maximum(truth[..., 0], 0), np.maximum(truth[..., 1], 0)
    total = central + companion + sky_level
    share = np.divide(central, total, out=np.zeros_like(central), where=total > 0)
    flux = truth[..., 0].sum(axis=(1, 2))
    return {
        "error": ((share * blends).sum(axis=(1, 2)) - flux) / flux,
        "lost": (central - share * (central + companion)).sum(axis=(1, 2)) / flux,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="the release the predictions were made on")
    parser.add_argument("predictions", type=Path, help="y_pred_test.npz of ramp-test")
    args = parser.parse_args()
    blends, truth = problem.get_test_data(path=str(args.data_dir))
    blends, truth = np.asarray(blends, np.float64), np.asarray(truth, np.float64)
    with np.load(args.predictions, allow_pickle=True) as saved:
        central = np.asarray(saved["y_pred"], np.float64)[..., 0]
    parts = central_error_parts(blends, truth, central)
    flux = truth[..., 0].sum(axis=(1, 2))
    far = blend_properties(truth.astype(np.float32)).separation >= WELL_SEPARATED_PX

    print(
        f"{len(blends)} test blends, {far.sum()} separated by {WELL_SEPARATED_PX:g} px or more\n"
    )
    print("| mean of \\|part\\| / central flux, % | all blends | well separated |")
    print("| --- | --- | --- |")
    for name, part in parts.items():
        print(f"| {name} | {mean_abs_percent(part)} | {mean_abs_percent(part[far])} |")

    rows, columns = np.mgrid[: blends.shape[1], : blends.shape[2]]
    centre = (blends.shape[1] - 1) / 2
    radius = np.hypot(rows - centre, columns - centre)
    error = central - truth[..., 0]
    print(
        "\n| distance to the centre (px) | mean \\|error\\| / central flux, %: all blends "
        "| well separated |"
    )
    print("| --- | --- | --- |")
    for inner, outer in zip(RINGS_PX[:-1], RINGS_PX[1:], strict=True):
        ring = (radius >= inner) & (radius < outer)
        part = (error * ring).sum(axis=(1, 2)) / flux
        print(f"| {inner} to {outer} | {mean_abs_percent(part)} | {mean_abs_percent(part[far])} |")

    sigma = float(np.std(blends - truth.sum(axis=-1)))
    header = "central flux error % | light given to nobody %"
    print(f"\n| sky level s (sky noise {sigma:.4f}) | {header} |")
    print("| --- | --- | --- |")
    for share in SKY_SHARES:
        errors = sky_level_errors(blends, truth, share * sigma)
        error, lost = mean_abs_percent(errors["error"]), mean_abs_percent(errors["lost"])
        print(f"| {share:g} σ | {error} | {lost} |")


if __name__ == "__main__":
    main()
