"""Time and memory of the four score types on a full-size test set.

Run with ``python bench/bench_scoring.py [--n-images 2000] [--repeats 5]``. Prints the best
time of several repeats per score and in total, and the peak memory the scores allocate on
top of the inputs (tracemalloc sees numpy's buffers). Targets: < 100 ms in total for 2,000
images, peak extra memory < 2x the prediction array.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from scoring.base import score_together
from scoring.central_iou import CentralIoU
from scoring.companion_iou import CompanionIoU
from scoring.flux_error import FluxError
from scoring.overlap_iou import OverlapIoU

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
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
    total_ms = 0.0
    for score in scores:
        value = score(y_true, y_pred)
        best_ms = best_time_ms(lambda score=score: score(y_true, y_pred), args.repeats)
        total_ms += best_ms
        print(f"  {score.name:<14} {value:10.4f}  {best_ms:7.1f} ms alone")
    print(f"  {'sum alone':<14} {'':10}  {total_ms:7.1f} ms")
    together_ms = best_time_ms(lambda: score_together(scores, y_true, y_pred), args.repeats)
    print(f"  {'score_together':<14} {'':10}  {together_ms:7.1f} ms (target < 100 ms)")

    tracemalloc.start()
    score_together(scores, y_true, y_pred)
    _, together_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for score in scores:
        score(y_true, y_pred)
    _, alone_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for label, peak in (("score_together", together_peak), ("each alone", alone_peak)):
        ratio = peak / y_pred.nbytes
        print(f"  peak extra memory, {label}: {peak / 2**20:.1f} MiB = {ratio:.3f} x y_pred")
    print("  (target: < 2 x y_pred)")


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
