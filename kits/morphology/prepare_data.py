"""Make the galaxy-morphology data: simulate galaxies with GalSim, measure their morphology.

Student release (public seed)::

    python prepare_data.py --out DIR [--n-train 3000 --n-test 1000] [--seed 1926] [--jobs N]

writes ``DIR/data/train.csv`` and ``DIR/data/test.csv``, the files ``problem.get_train_data``
and ``get_test_data`` read: one row per galaxy, the measured features and the true class in the
column ``morphology``. Hidden test set (server only), from a secret seed read in an environment
variable so that it never appears on a command line::

    MORPHOLOGY_HIDDEN_SEED=... python prepare_data.py --hidden 2000 \\
        --seed-env MORPHOLOGY_HIDDEN_SEED --out DIR

writes ``DIR/data/test.csv`` only. Every galaxy has its own random stream, drawn from (seed,
split, index): the output is the same for a seed whatever the number of processes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from morph_features import FEATURES, measure
from morph_sim import NOISE_SIGMA, draw_galaxy, draw_parameters

PUBLIC_SEED = 1926  # the year of Hubble's classification of galaxies
LABEL_COLUMN = "morphology"
SPLIT_CODES = {"train": 0, "test": 1}
CHUNK = 50  # galaxies per task sent to a worker process
FLOAT_FORMAT = "%.6g"  # six significant digits: far below the measurement noise


def simulate_one(seed: int, split: str, index: int) -> dict[str, float | str]:
    """The features and the class of galaxy ``index`` of ``split`` for ``seed``."""
    rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
    galaxy = draw_parameters(rng)
    features = measure(draw_galaxy(galaxy, rng), NOISE_SIGMA)
    return {**features, LABEL_COLUMN: galaxy.morphology}


def _simulate_chunk(task: tuple[int, str, int, int]) -> list[dict[str, float | str]]:
    seed, split, start, stop = task
    return [simulate_one(seed, split, index) for index in range(start, stop)]


def simulate_split(n: int, seed: int, split: str, jobs: int = 1) -> pd.DataFrame:
    """``n`` galaxies as a table: the FEATURES columns, then the class in LABEL_COLUMN."""
    tasks = [(seed, split, start, min(start + CHUNK, n)) for start in range(0, n, CHUNK)]
    if jobs <= 1 or len(tasks) <= 1:
        chunks = map(_simulate_chunk, tasks)
        rows = [row for chunk in chunks for row in chunk]
    else:
        with multiprocessing.get_context().Pool(jobs) as pool:
            rows = [row for chunk in pool.imap(_simulate_chunk, tasks) for row in chunk]
    return pd.DataFrame(rows, columns=[*FEATURES, LABEL_COLUMN])


def write_split(table: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format=FLOAT_FORMAT)
    return path


def generate_release(out_dir: Path, n_train: int, n_test: int, seed: int, jobs: int) -> None:
    """The student release: ``out_dir/data/train.csv`` and ``out_dir/data/test.csv``."""
    for split, n in (("train", n_train), ("test", n_test)):
        write_split(simulate_split(n, seed, split, jobs), Path(out_dir) / "data" / f"{split}.csv")


def hidden_seed(variable: str) -> int:
    """The secret seed held in the environment variable ``variable``, checked."""
    value = os.environ.get(variable, "")
    try:
        seed = int(value)
    except ValueError:
        raise SystemExit(
            f"--seed-env {variable}: expected an integer in ${variable}, got {value!r}; "
            f"set it to a secret number first (export {variable}=...)."
        ) from None
    if seed == PUBLIC_SEED:
        raise SystemExit(
            f"${variable} is the public seed {PUBLIC_SEED}: anyone could regenerate the hidden "
            "test set. Choose another, secret, seed."
        )
    return seed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="writes OUT/data/*.csv")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=PUBLIC_SEED)
    parser.add_argument("--hidden", type=int, metavar="N", help="write a hidden test set of N")
    parser.add_argument("--seed-env", metavar="VAR", help="variable holding the hidden seed")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    args = parser.parse_args(argv)
    if (args.hidden is None) != (args.seed_env is None):
        parser.error("--hidden and --seed-env go together: a hidden set needs a secret seed.")
    if args.hidden is not None and args.seed != PUBLIC_SEED:
        parser.error("a hidden set takes its seed from --seed-env only, not from --seed.")
    for name in ("n_train", "n_test", "hidden", "jobs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}.")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.hidden is not None:
        table = simulate_split(args.hidden, hidden_seed(args.seed_env), "test", args.jobs)
        written = [write_split(table, args.out / "data" / "test.csv")]
        n = args.hidden
    else:
        generate_release(args.out, args.n_train, args.n_test, args.seed, args.jobs)
        written = [args.out / "data" / "train.csv", args.out / "data" / "test.csv"]
        n = args.n_train + args.n_test
    elapsed = time.perf_counter() - started
    print(
        f"wrote {', '.join(map(str, written))}: {n} galaxies in {elapsed:.1f} s "
        f"({args.jobs} processes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
