"""Fixtures of the engine tests: a tiny student release, a tiny hidden set, job specs.

The data are synthetic (two Gaussian blobs per stamp), written with ``ramp_kit.io`` so that the
sandbox reads real FITS files. The hidden set lives in its own temporary folder, outside every
path the sandbox binds. The PostgreSQL helpers (a throw-away schema, ``skip_or_fail``) are shared
with the browser and production-stack tests, in tests/browser/livestack.py.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from ramp_kit.constants import NOISE_SIGMA, STAMP_SIZE
from ramp_kit.io import BLENDS_FILE, write_split
from server.engine.job import JobKind, JobSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

N_TRAIN, N_TEST, N_HIDDEN = 24, 8, 8


def synthetic_split(split_dir: Path, n: int, seed: int) -> None:
    """``n`` stamps: a central blob and an offset companion, plus Gaussian sky noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - STAMP_SIZE / 2
    truth = np.empty((n, 2, STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
    for i in range(n):
        dx, dy = rng.uniform(-30, 30, size=2)
        truth[i, 0] = 0.1 * np.exp(-(xx**2 + yy**2) / (2 * rng.uniform(4, 8) ** 2))
        truth[i, 1] = 0.05 * np.exp(-((xx - dx) ** 2 + (yy - dy) ** 2) / (2 * 5.0**2))
    blends = truth.sum(axis=1) + rng.normal(0, NOISE_SIGMA, (n, STAMP_SIZE, STAMP_SIZE))
    catalogue = Table({"blend_id": np.arange(n), "flux_central": truth[:, 0].sum(axis=(1, 2))})
    write_split(split_dir, blends.astype(np.float32), truth, catalogue)


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A student release: ``data/train`` and ``data/test``."""
    root = tmp_path_factory.mktemp("release")
    synthetic_split(root / "data" / "train", N_TRAIN, seed=1)
    synthetic_split(root / "data" / "test", N_TEST, seed=2)
    root.chmod(0o755)  # mktemp makes it 0700: the sandbox's uid must read the release
    return root


@pytest.fixture(scope="session")
def hidden_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hidden set: ``inputs/blends.fits`` and ``labels/{truth,catalogue}.fits``."""
    root = tmp_path_factory.mktemp("hidden")
    synthetic_split(root / "labels", N_HIDDEN, seed=3)
    (root / "inputs").mkdir()
    shutil.move(root / "labels" / BLENDS_FILE, root / "inputs" / BLENDS_FILE)
    (root / "labels").chmod(0o700)  # as on a server: only the worker reads the labels
    return root


@pytest.fixture(scope="session")
def sandbox() -> None:
    """Skip where bubblewrap (or root, which it needs to drop privileges) is missing.

    In CI (``CI`` set) that is a broken set-up, not a reason to skip: fail instead.
    """
    from livestack import require_sandbox

    require_sandbox()


@pytest.fixture
def make_spec(release_dir: Path, hidden_dir: Path) -> Callable[..., JobSpec]:
    """A JobSpec for a ``deblender.py`` source, with small limits unless told otherwise."""

    def make(source: str, kind: JobKind = JobKind.FULL, **overrides: object) -> JobSpec:
        fields: dict[str, object] = {
            "submission_id": 7,
            "attempt": 1,
            "kind": kind,
            "files": {"deblender.py": source.encode()},
            "public_data_dir": str(release_dir),
            "hidden_data_dir": str(hidden_dir),
            "timeout_seconds": 60,
            "memory_limit_mb": 2048,
            "max_processes": 256,
            "disk_limit_mb": 50,
        }
        return JobSpec(**(fields | overrides))  # type: ignore[arg-type]

    return make
