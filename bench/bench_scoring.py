"""Time and memory of the four score types on a full-size test set.

Run with ``python bench/bench_scoring.py [--n-images 2000] [--repeats 9]``. Prints the best
time of several repeats (the least disturbed by other processes, with the load average
before and after) of: each score alone on fresh statistics, the four scores called one
after the other on the same arrays as ramp-test calls them (they share one pass through
``scoring.statistics_cache``), and ``score_together``; then the peak memory the scores
allocate on top of the inputs (tracemalloc sees numpy's buffers). Targets: < 100 ms for the
four scores on 2,000 images, peak extra memory < 2x the prediction array.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from ramp_kit.scoring.base import ImageScoreType, score_together
from ramp_kit.scoring.central_iou import CentralIoU
from ramp_kit.scoring.companion_iou import CompanionIoU
from ramp_kit.scoring.flux_error import FluxError
from ramp_kit.scoring.overlap_iou import OverlapIoU
from ramp_kit.scoring.statistics_cache import clear_statistics_cache

STAMP = 128
MASK_THRESHOLD = 0.003  # the kit's value (ramp_kit.constants); scoring does not import the kit


def make_test_set(n_images: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian galaxies per stamp and noisy probabilities around their true masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:STAMP, :STAMP].astype(np.float32)
    y_true = np.empty((n_images, STAMP, STAMP, 2), dtype=np.float32)
    centres = rng.uniform(40, 88, size=(n_images, 2, 2)).astype(np.float32)
    centres[:, 0] = STAMP / 2
    widths = rng.uniform(3, 10, size=(n_images, 2)).astype(np.float32)
    for channel in range(2):
        cy = centres[:, channel, 0, None, None]
        cx = centres[:, channel, 1, None, None]
        w = widths[:, channel, None, None]
        y_true[..., channel] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w**2))
    y_pred = (y_true > MASK_THRESHOLD).astype(np.float32)
    y_pred += rng.normal(0, 0.3, size=y_pred.shape).astype(np.float32)
    np.clip(y_pred, 0, 1, out=y_pred)
    return y_true, y_pred


def score_in_turn(
    scores: list[ImageScoreType], y_true: np.ndarray, y_pred: np.ndarray
) -> list[float]:
    """The scores as ramp-test computes them: each score type called in turn, cold cache."""
    clear_statistics_cache()
    return [score(y_true, y_pred) for score in scores]


def score_alone(score: ImageScoreType, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """One score on statistics computed for it."""
    clear_statistics_cache()
    return score(y_true, y_pred)


def cold_together(
    scores: list[ImageScoreType], y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    clear_statistics_cache()
    return score_together(scores, y_true, y_pred)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    y_true, y_pred = make_test_set(args.n_images)
    scores = [
        CentralIoU(mask_threshold=MASK_THRESHOLD),
        CompanionIoU(mask_threshold=MASK_THRESHOLD),
        OverlapIoU(mask_threshold=MASK_THRESHOLD),
        FluxError(),
    ]
    size_mib = y_pred.nbytes / 2**20
    print(f"{args.n_images} images, y_pred {size_mib:.0f} MiB, best of {args.repeats} runs")
    print(f"  load average before: {load_average()}")
    total_ms = 0.0
    for score in scores:
        value = score_alone(score, y_true, y_pred)
        alone = lambda score=score: score_alone(score, y_true, y_pred)  # noqa: E731
        best_ms = best_time_ms(alone, args.repeats)
        total_ms += best_ms
        print(f"  {score.name:<14} {value:10.4f}  {best_ms:7.1f} ms alone")
    print(f"  {'sum alone':<14} {'':10}  {total_ms:7.1f} ms")
    in_turn_ms = best_time_ms(lambda: score_in_turn(scores, y_true, y_pred), args.repeats)
    print(f"  {'four in turn':<14} {'':10}  {in_turn_ms:7.1f} ms (as ramp-test; target < 100)")
    together_ms = best_time_ms(lambda: cold_together(scores, y_true, y_pred), args.repeats)
    print(f"  {'score_together':<14} {'':10}  {together_ms:7.1f} ms (target < 100 ms)")
    print(f"  load average after: {load_average()}")

    peaks = {}
    for label, run in (
        ("score_together", lambda: cold_together(scores, y_true, y_pred)),
        ("four in turn", lambda: score_in_turn(scores, y_true, y_pred)),
        ("each alone", lambda: [score_alone(score, y_true, y_pred) for score in scores]),
    ):
        tracemalloc.start()
        run()
        peaks[label] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    for label, peak in peaks.items():
        ratio = peak / y_pred.nbytes
        print(f"  peak extra memory, {label}: {peak / 2**20:.1f} MiB = {ratio:.3f} x y_pred")
    print("  (target: < 2 x y_pred)")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: timings under load are only upper bounds."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg()) + f" on {os.cpu_count()} cores"


def best_time_ms(run: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` runs: the least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


if __name__ == "__main__":
    main()
