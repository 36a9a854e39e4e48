"""Generate the challenge data: ``python -m ramp_kit.data``.

Student release (public seed)::

    python -m ramp_kit.data --n-train 10000 --n-test 2000 --out DIR [--seed 2019] [--jobs N]

writes ``DIR/data/train`` and ``DIR/data/test`` (the layout ``problem.get_train_data(path=DIR)``
reads). Hidden test set (server only, secret seed)::

    python -m ramp_kit.data --hidden 2000 --seed-env DEBLEND_HIDDEN_SEED --out DIR

writes ``DIR/data/test/{blends,truth,catalogue}.fits``: a ramp-workflow data folder whose test
split is the hidden set, laid out as the student release's test split, so that the server reads
it with the kit's own ``problem.get_test_data(DIR)``. Its blends are drawn from the split code
``hidden``, so they share no galaxy with a student release even of the same seed. Chunks are
written to disk as they arrive, so memory use stays flat whatever the number of blends.
"""

from __future__ import annotations

import argparse
import os
from multiprocessing.pool import Pool
from pathlib import Path

import numpy as np

from ramp_kit.constants import (
    EXPOSURE_TIME,
    NOISE_SIGMA,
    PIXEL_SCALE,
    PUBLIC_SEED,
    STAMP_SIZE,
    ZERO_POINT,
)
from ramp_kit.io import BLENDS_FILE, CATALOGUE_FILE, TRUTH_FILE
from ramp_kit.sim_fits import allocate_cube
from ramp_kit.simulate import (
    CATALOGUE_DTYPE,
    SPLIT_CODES,
    catalogue_table,
    iter_chunks,
    simulation_pool,
)

_HEADER = {
    "BUNIT": "electron/s",
    "PIXSCALE": (PIXEL_SCALE, "arcsec / pixel"),
    "ZEROPNT": (ZERO_POINT, "AB magnitude of 1 e-/s (F160W)"),
    "EXPTIME": (EXPOSURE_TIME, "s, sets the galaxies' Poisson noise"),
    "SKYSIGMA": (NOISE_SIGMA, "e-/s, rms of the correlated sky noise"),
}


def _write_split(
    split_dir: Path,
    n: int,
    seed: int,
    split: str,
    pool: Pool | None,
    progress: bool,
    header: dict[str, object],
) -> None:
    """Simulate one split and stream it to ``split_dir/{blends,truth,catalogue}.fits``."""
    records = np.empty(n, dtype=CATALOGUE_DTYPE)
    header = {**_HEADER, **header, "SPLIT": split}
    targets = (
        allocate_cube(split_dir / BLENDS_FILE, (n, STAMP_SIZE, STAMP_SIZE), header),
        allocate_cube(split_dir / TRUTH_FILE, (n, 2, STAMP_SIZE, STAMP_SIZE), header),
    )
    chunks = iter_chunks(n, seed, SPLIT_CODES[split], 1, progress, targets=targets, pool=pool)
    for start, _, _, chunk_records in chunks:
        records[start : start + len(chunk_records)] = chunk_records
    catalogue_table(records).write(split_dir / CATALOGUE_FILE, overwrite=True)


def generate_student_release(
    out_dir: Path,
    n_train: int,
    n_test: int,
    seed: int = PUBLIC_SEED,
    jobs: int | None = None,
    progress: bool = True,
) -> Path:
    """Write the train and (labelled) local test sets to ``out_dir/data/{train,test}``."""
    out_dir = Path(out_dir)
    with simulation_pool(jobs) as pool:  # one pool: its workers warm up once for both splits
        for split, n in (("train", n_train), ("test", n_test)):
            _write_split(out_dir / "data" / split, n, seed, split, pool, progress, {"SEED": seed})
    return out_dir


def generate_hidden_set(
    out_dir: Path, n: int, seed: int, jobs: int | None = None, progress: bool = True
) -> Path:
    """Write the server's hidden test set as the test split of ``out_dir/data/test``.

    ``problem.get_test_data(out_dir)`` reads it. ``seed`` is a server secret: it is not written
    in any file, and the public seed is refused because its galaxies are in the students' hands.
    """
    if seed == PUBLIC_SEED:
        raise ValueError(
            f"the hidden test set cannot use the public seed {PUBLIC_SEED}: students can "
            "regenerate it. Use a secret seed, e.g. `--seed-env DEBLEND_HIDDEN_SEED`."
        )
    out_dir = Path(out_dir)
    with simulation_pool(jobs) as pool:
        _write_split(out_dir / "data" / "test", n, seed, "hidden", pool, progress, {})
    return out_dir


def _seed_from_env(name: str) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        raise ValueError(f"environment variable {name} is not set: export it with the seed")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must hold an integer seed") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ramp_kit.data",
        description="Simulate galaxy blends: the student release, or the hidden test set.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--n-train", type=int, help="training blends (default 10000)")
    parser.add_argument("--n-test", type=int, help="local test blends (default 2000)")
    parser.add_argument(
        "--hidden", type=int, metavar="N", help="write the hidden test set of N blends instead"
    )
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, help=f"random seed (student default {PUBLIC_SEED})")
    seeds.add_argument("--seed-env", metavar="VAR", help="read the seed from this variable")
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        seed = _seed_from_env(args.seed_env) if args.seed_env else args.seed
        if args.hidden is not None:
            if seed is None:
                parser.error("--hidden needs a secret seed: --seed-env VAR (or --seed)")
            if args.n_train is not None or args.n_test is not None:
                parser.error("--n-train/--n-test are for the student release, not --hidden")
            out = generate_hidden_set(args.out, args.hidden, seed, args.jobs, not args.quiet)
        else:
            out = generate_student_release(
                args.out,
                10_000 if args.n_train is None else args.n_train,
                2_000 if args.n_test is None else args.n_test,
                PUBLIC_SEED if seed is None else seed,
                args.jobs,
                not args.quiet,
            )
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
