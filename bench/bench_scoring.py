"""Time and memory of the kit's score types on a full-size test set.

Run with ``python bench/bench_scoring.py [--n-images 2000] [--repeats 9]``. Prints the best
wall time of several repeats (the least disturbed by other processes, with the load average
before and after; the CPU time too, which a loaded machine inflates less) of: each score
alone on fresh sums, every score called one after the other on the same arrays as ramp-test
calls them (they share one pass through ``ramp_kit.scoring.statistics_cache``),
``score_together``, and the same with the truth laid out as the kit reads it from FITS
(big-endian, channels transposed); then the peak memory the scores allocate on top of the
inputs (tracemalloc sees NumPy's buffers). Targets: < 100 ms
for all the scores on 2,000 images, peak extra memory < 2x the prediction array.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from ramp_kit import problem
from ramp_kit.constants import NOISE_SIGMA
from ramp_kit.scoring.base import BlendScoreType, score_together
from ramp_kit.scoring.statistics_cache import clear_statistics_cache

STAMP = 128


def make_test_set(n_images: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian galaxies per stamp, and noisy predictions sharing their light."""
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
    y_pred = y_true * rng.uniform(0.8, 1.2, size=(n_images, 1, 1, 2)).astype(np.float32)
    y_pred += rng.normal(0, NOISE_SIGMA, size=y_pred.shape).astype(np.float32)
    return y_true, y_pred


def fits_layout(y_true: np.ndarray) -> np.ndarray:
    """The truth as ``ramp_kit.io.read_truth`` gives it: big-endian (N, 2, H, W), transposed."""
    return np.ascontiguousarray(y_true.transpose(0, 3, 1, 2)).astype(">f4").transpose(0, 2, 3, 1)


def score_in_turn(
    scores: list[BlendScoreType], y_true: np.ndarray, y_pred: np.ndarray
) -> list[float]:
    """The scores as ramp-test computes them: each score type called in turn, cold cache."""
    clear_statistics_cache()
    return [score(y_true, y_pred) for score in scores]


def score_alone(score: BlendScoreType, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """One score on sums computed for it."""
    clear_statistics_cache()
    return score(y_true, y_pred)


def cold_together(
    scores: list[BlendScoreType], y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    clear_statistics_cache()
    return score_together(scores, y_true, y_pred)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    y_true, y_pred = make_test_set(args.n_images)
    scores = list(problem.score_types)
    score_in_turn(scores, y_true[:2], y_pred[:2])  # compiles the pass (or loads it from cache)
    size_mib = y_pred.nbytes / 2**20
    print(f"{args.n_images} images, y_pred {size_mib:.0f} MiB, best of {args.repeats} runs")
    print(f"  load average before: {load_average()}")
    total_ms = 0.0
    for score in scores:
        value = score_alone(score, y_true, y_pred)
        alone = lambda score=score: score_alone(score, y_true, y_pred)  # noqa: E731
        best_ms = best_time_ms(alone, args.repeats)
        total_ms += best_ms
        print(f"  {score.name:<24} {value:10.4f}  {best_ms:7.1f} ms alone")
    print(f"  {'sum alone':<24} {'':10}  {total_ms:7.1f} ms")
    in_turn_ms = best_time_ms(lambda: score_in_turn(scores, y_true, y_pred), args.repeats)
    print(f"  {'all in turn':<24} {'':10}  {in_turn_ms:7.1f} ms (as ramp-test; target < 100)")
    cpu_ms = best_cpu_ms(lambda: score_in_turn(scores, y_true, y_pred), args.repeats)
    print(f"  {'all in turn, CPU time':<24} {'':10}  {cpu_ms:7.1f} ms (all threads)")
    together_ms = best_time_ms(lambda: cold_together(scores, y_true, y_pred), args.repeats)
    print(f"  {'score_together':<24} {'':10}  {together_ms:7.1f} ms (target < 100 ms)")
    fits_truth = fits_layout(y_true)
    fits_ms = best_time_ms(lambda: score_in_turn(scores, fits_truth, y_pred), args.repeats)
    print(f"  {'all in turn, FITS truth':<24} {'':10}  {fits_ms:7.1f} ms (as read from disk)")
    print(f"  load average after: {load_average()}")

    peaks = {}
    for label, run in (
        ("score_together", lambda: cold_together(scores, y_true, y_pred)),
        ("all in turn", lambda: score_in_turn(scores, y_true, y_pred)),
        ("each alone", lambda: [score_alone(score, y_true, y_pred) for score in scores]),
        ("all in turn, FITS truth", lambda: score_in_turn(scores, fits_truth, y_pred)),
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


def best_cpu_ms(run: Callable[[], object], repeats: int) -> float:
    """Best CPU time of the process (all threads) over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times) * 1e3


if __name__ == "__main__":
    main()
