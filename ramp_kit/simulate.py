"""Simulate blends of two galaxies as HST WFC3/IR F160W would see them (GalSim).

Blend ``index`` of a split depends only on ``numpy.random.SeedSequence([seed, split_code,
index])``, so a set is identical whatever the number of processes and however it is chunked,
and splits with different codes (or seeds) never share a galaxy.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from multiprocessing.pool import Pool

import numpy as np
from astropy.table import Table
from threadpoolctl import ThreadpoolController
from tqdm import tqdm

from ramp_kit.constants import MASK_THRESHOLD, STAMP_SIZE, ZERO_POINT
from ramp_kit.sim_fits import CubeTarget
from ramp_kit.sim_galaxy import draw_galaxy
from ramp_kit.sim_noise import correlated_noise, shot_noise
from ramp_kit.sim_params import Galaxy, draw_pair

SPLIT_CODES = {"train": 0, "test": 1, "hidden": 2}
CHUNK_SIZE = 25  # blends per worker task: small enough for a lively progress bar
ROLES = ("central", "companion")

_GALAXY_COLUMNS = (
    ("x", "f8", "pix"),
    ("y", "f8", "pix"),
    ("flux", "f8", ""),  # e-/s: not a FITS unit, said in the description
    ("mag", "f8", "mag"),  # AB
    ("hlr", "f8", "pix"),
    ("morphology", "U10", ""),  # spheroid, bulge+disk, disk or irregular
    ("bulge_fraction", "f8", ""),
    ("bulge_hlr", "f8", "pix"),
    ("disk_hlr", "f8", "pix"),
    ("ellipticity", "f8", ""),
    ("bulge_axis_ratio", "f8", ""),
    ("disk_axis_ratio", "f8", ""),
    ("angle", "f8", "deg"),
    ("n_knots", "i4", ""),
    ("knot_fraction", "f8", ""),
    ("clump_fraction", "f8", ""),
)
CATALOGUE_DTYPE = np.dtype(
    [("blend_id", "i8")]
    + [(f"{role}_id", "U16") for role in ROLES]
    + [(f"{role}_{name}", kind) for role in ROLES for name, kind, _ in _GALAXY_COLUMNS]
    + [("separation", "f8"), ("overlap_pixels", "i4")]
)
_UNITS = {f"{role}_{name}": unit for role in ROLES for name, _, unit in _GALAXY_COLUMNS if unit}


def _record(index: int, galaxies: tuple[Galaxy, Galaxy], truth: np.ndarray) -> tuple:
    values: list[object] = [index, *(galaxy.galaxy_id for galaxy in galaxies)]
    for galaxy in galaxies:
        values.extend(getattr(galaxy, name) for name, _, _ in _GALAXY_COLUMNS)
    central, companion = galaxies
    separation = float(np.hypot(companion.x - central.x, companion.y - central.y))
    overlap = int(np.count_nonzero((truth[0] > MASK_THRESHOLD) & (truth[1] > MASK_THRESHOLD)))
    return (*values, separation, overlap)


def _blend_seeds(seed: int, split_code: int, index: int) -> list[np.random.SeedSequence]:
    """The seeds of one blend's galaxies and of its noise."""
    return np.random.SeedSequence([seed, split_code, index]).spawn(2)


def blend_galaxies(seed: int, split_code: int, index: int) -> tuple[Galaxy, Galaxy]:
    """The two galaxies of blend ``index`` of a split, as ``simulate_chunk`` draws them."""
    return draw_pair(np.random.default_rng(_blend_seeds(seed, split_code, index)[0]))


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    # Finding the loaded BLAS libraries takes a millisecond: once per process, not per chunk.
    return ThreadpoolController()


def simulate_chunk(
    seed: int, split_code: int, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blends ``start``..``stop - 1`` of a split: (blends, truth, catalogue records)."""
    count = stop - start
    blends = np.empty((count, STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
    truth = np.empty((count, 2, STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
    records = np.empty(count, dtype=CATALOGUE_DTYPE)
    # The knots' small matrix products run six times slower when BLAS spreads them on threads.
    with _threadpools().limit(limits=1, user_api="blas"):
        for i, index in enumerate(range(start, stop)):
            param_seed, noise_seed = _blend_seeds(seed, split_code, index)
            galaxies = draw_pair(np.random.default_rng(param_seed))
            central, companion = (draw_galaxy(galaxy) for galaxy in galaxies)
            truth[i, 0], truth[i, 1] = central, companion
            records[i] = _record(index, galaxies, truth[i])
            signal = central + companion
            noise_rng = np.random.default_rng(noise_seed)
            blends[i] = signal + shot_noise(signal, noise_rng) + correlated_noise(noise_rng)
    return blends, truth, records


# start, blends, truth, records; the images are None when the worker wrote them to files.
Chunk = tuple[int, np.ndarray | None, np.ndarray | None, np.ndarray]
Targets = tuple[CubeTarget, CubeTarget] | None  # blends, truth


def _simulate_task(task: tuple[int, int, int, int, Targets]) -> Chunk:
    seed, split_code, start, stop, targets = task
    blends, truth, records = simulate_chunk(seed, split_code, start, stop)
    if targets is None:
        return start, blends, truth, records
    # Written here, in the worker: the images never travel back through the pool's pipe.
    targets[0].write(start, blends)
    targets[1].write(start, truth)
    return start, None, None, records


def _jobs(jobs: int | None) -> int:
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    return jobs


@contextmanager
def simulation_pool(jobs: int | None = None) -> Iterator[Pool | None]:
    """Worker processes for ``iter_chunks``, shared by the splits of a release (None: 1 job).

    A worker builds GalSim's profile tables and the PSF's Fourier images once, on its first
    blends; sharing the pool spares every later split that second of start-up.
    """
    if _jobs(jobs) == 1:
        yield None
        return
    # forkserver: workers never inherit the parent's threads (the server may run TensorFlow
    # or Dask); preloading the simulator makes each worker start without re-importing GalSim.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with context.Pool(_jobs(jobs)) as pool:
        yield pool


def iter_chunks(
    n: int,
    seed: int,
    split_code: int,
    jobs: int | None = None,
    progress: bool = False,
    chunk_size: int = CHUNK_SIZE,
    targets: Targets = None,
    pool: Pool | None = None,
) -> Iterator[Chunk]:
    """Yield ``(start, blends, truth, records)`` chunks in order, made on ``jobs`` processes.

    With ``targets`` (the blends and truth cubes of FITS files being written), the workers
    store the images themselves and yield None in their place. With ``pool`` (from
    ``simulation_pool``), its workers do the work and ``jobs`` is not used.
    """
    if n < 1:
        raise ValueError(f"number of blends must be at least 1, got {n}")
    jobs = _jobs(jobs)
    tasks = [
        (seed, split_code, start, min(start + chunk_size, n), targets)
        for start in range(0, n, chunk_size)
    ]
    split = next((name for name, code in SPLIT_CODES.items() if code == split_code), split_code)
    bar = tqdm(total=n, unit="blend", disable=not progress, desc=f"simulating {split}")
    with bar:
        if pool is None and (jobs == 1 or len(tasks) == 1):
            for result in map(_simulate_task, tasks):
                bar.update(len(result[3]))
                yield result
            return
        with ExitStack() as stack:
            if pool is None:
                pool = stack.enter_context(simulation_pool(min(jobs, len(tasks))))
            for result in pool.imap(_simulate_task, tasks):
                bar.update(len(result[3]))
                yield result


def catalogue_table(records: np.ndarray) -> Table:
    """The catalogue of a split as an astropy Table with units."""
    table = Table(records)
    for name, unit in _UNITS.items():
        table[name].unit = unit
    for role in ROLES:
        table[f"{role}_flux"].description = "total flux, e-/s"
        table[f"{role}_mag"].description = f"AB magnitude, zero point {ZERO_POINT}"
        table[f"{role}_hlr"].description = "intrinsic half-light radius (before the PSF)"
        table[f"{role}_morphology"].description = "spheroid, bulge+disk, disk or irregular"
    table["separation"].unit = "pix"
    return table


def simulate_blends(
    n: int,
    seed: int,
    split_code: int,
    jobs: int | None = None,
    progress: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> tuple[np.ndarray, np.ndarray, Table]:
    """``n`` blends in memory: blends (n, 128, 128), truth (n, 2, 128, 128), catalogue Table.

    ``split_code`` keeps splits of one seed apart (see SPLIT_CODES); images are float32 e-/s.
    """
    blends = np.empty((n, STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
    truth = np.empty((n, 2, STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
    records = np.empty(n, dtype=CATALOGUE_DTYPE)
    for start, chunk_blends, chunk_truth, chunk_records in iter_chunks(
        n, seed, split_code, jobs, progress, chunk_size
    ):
        stop = start + len(chunk_records)
        blends[start:stop], truth[start:stop], records[start:stop] = (
            chunk_blends,
            chunk_truth,
            chunk_records,
        )
    return blends, truth, catalogue_table(records)
