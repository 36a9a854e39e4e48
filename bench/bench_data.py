"""Benchmark the data pipeline: blend generation throughput and train-set load time.

    python bench/bench_data.py [--n 1000] [--n-train 10000] [--out var/bench-data]

Prints one table: simulation throughput on 1 and 2 processes (in memory, pool start-up
included; plus the CPU time of the single-process run, which a busy machine does not
inflate), the throughput of writing a student release to disk, and the time
``ramp_kit.io.read_split`` takes to open the train set (memory-mapped: it must stay well under
a second for 10,000 blends) and to read every pixel of it. Then the depth of the simulated
images: the 5 sigma point-source limit in a 0.17 arcsec diameter aperture, measured on the
empty sky of ``--n-depth`` blends, beside the CANDELS depths the noise imitates. Each row
shows the 1-minute load average at the end of its step: other jobs on a shared machine slow it.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ramp_kit.constants import DEPTH_APERTURE, NOISE_SIGMA, PIXEL_SCALE
from ramp_kit.data import generate_student_release
from ramp_kit.io import read_catalogue, read_split
from ramp_kit.sim_galaxy import psf
from ramp_kit.sim_noise import point_source_depth
from ramp_kit.simulate import SPLIT_CODES, iter_chunks, simulate_blends

BENCH_SEED = 7  # not the public seed: nothing here is a release
# 5 sigma point-source limits in F160W (H), AB: Grogin et al. 2011, ApJS 197, 35.
CANDELS_DEPTHS = {"CANDELS Wide": 27.0, "CANDELS Deep": 27.7}


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _simulate(n: int, jobs: int) -> None:
    for _ in iter_chunks(n, BENCH_SEED, 0, jobs=jobs):
        pass  # chunks are dropped: this times the simulation alone


def measured_depth(n: int, jobs: int) -> float:
    """The 5 sigma point-source depth (AB) of ``n`` simulated blends (``point_source_depth``)."""
    blends, truth, _ = simulate_blends(n, BENCH_SEED, SPLIT_CODES["test"], jobs=jobs)
    signal = truth.sum(axis=1, dtype=np.float64)
    point_source = psf().withFlux(1.0).drawImage(nx=33, ny=33, scale=PIXEL_SCALE).array
    return point_source_depth(blends - signal, signal, point_source)


def _train_exists(out: Path, n_train: int) -> bool:
    try:
        return len(read_catalogue(out / "data" / "train")) == n_train
    except FileNotFoundError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="blends per throughput run")
    parser.add_argument("--n-train", type=int, default=10_000, help="train blends to load")
    parser.add_argument("--n-test", type=int, default=100, help="test blends written with them")
    parser.add_argument("--out", type=Path, default=Path("var/bench-data"), help="release dir")
    parser.add_argument("--jobs", type=int, nargs="+", default=[2, 1], help="process counts")
    parser.add_argument("--n-depth", type=int, default=200, help="blends to measure depth on")
    args = parser.parse_args()

    # step, blends, seconds, 1-minute load average at its end (other jobs slow a shared machine)
    rows: list[tuple[str, int, float, float]] = []
    cpu_per_blend = None
    for jobs in args.jobs:
        cpu_start = time.process_time()
        seconds = _timed(lambda j=jobs: _simulate(args.n, j))
        rows.append((f"simulate, jobs={jobs}", args.n, seconds, os.getloadavg()[0]))
        if jobs == 1:  # simulated in this process: its CPU time is the simulation's
            cpu_per_blend = (time.process_time() - cpu_start) / args.n
    if _train_exists(args.out, args.n_train):
        print(f"reusing the release in {args.out}")
    else:
        n_written = args.n_train + args.n_test
        seconds = _timed(
            lambda: generate_student_release(
                args.out, args.n_train, args.n_test, seed=BENCH_SEED, jobs=max(args.jobs)
            )
        )
        step = f"write release, jobs={max(args.jobs)}"
        rows.append((step, n_written, seconds, os.getloadavg()[0]))
    train = args.out / "data" / "train"
    arrays: list = []
    seconds = _timed(lambda: arrays.extend(read_split(train)))
    rows.append(("read_split (open)", args.n_train, seconds, os.getloadavg()[0]))
    seconds = _timed(lambda: [a.sum() for a in arrays])
    rows.append(("read every pixel", args.n_train, seconds, os.getloadavg()[0]))

    print(f"\n{'step':<24} {'blends':>8} {'seconds':>9} {'blends/s':>10} {'load':>6}")
    for step, n, seconds, load in rows:
        print(f"{step:<24} {n:>8} {seconds:>9.3f} {n / seconds:>10.0f} {load:>6.2f}")
    if cpu_per_blend:
        # On a shared machine wall times lag; CPU time says what one free core would do.
        rate = 1.0 / cpu_per_blend
        print(f"\njobs=1 CPU time: {cpu_per_blend * 1e3:.2f} ms/blend ({rate:.0f} blends/s)")
    depth = measured_depth(args.n_depth, max(args.jobs))
    print(
        f"\n5 sigma point-source depth, {DEPTH_APERTURE} arcsec diameter aperture, "
        f"sky rms {NOISE_SIGMA} e-/s per pixel: H = {depth:.2f} AB ({args.n_depth} blends)"
    )
    for survey, limit in CANDELS_DEPTHS.items():
        print(f"  {survey}: H = {limit} (Grogin et al. 2011), difference {depth - limit:+.2f} mag")


if __name__ == "__main__":
    main()
