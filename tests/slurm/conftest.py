"""Fixtures of the Slurm tests: a running Slurm (CI starts a one-node cluster with
deploy/dask/one-node-slurm.sh), the unprivileged user whose jobs the workers are, and a work
folder and database that user owns.

Without Slurm the tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.unprivileged import ensure_user, user_can_run_python
from tests.slurm.slurm_helpers import SLURM_PARTITION_ENV, cancel_worker_jobs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))


def _skip_or_fail(reason: str) -> None:
    from livestack import skip_or_fail

    skip_or_fail(reason)


@pytest.fixture(scope="session")
def slurm() -> str:
    """The partition the workers run in, checked up and ready."""
    partition = os.environ.get(SLURM_PARTITION_ENV, "cpu")
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        _skip_or_fail("Slurm is missing: apt-get install slurm-wlm munge, then run "
                      "deploy/dask/one-node-slurm.sh as root")  # fmt: skip
    done = subprocess.run(
        ["sinfo", "-h", "-p", partition, "-o", "%a %T"], capture_output=True, text=True
    )
    states = done.stdout.split()
    if done.returncode != 0 or "up" not in states:
        _skip_or_fail(
            f"Slurm partition {partition!r} is not up ({(done.stderr or done.stdout).strip()!r}): "
            "start the one-node cluster with deploy/dask/one-node-slurm.sh as root"
        )
    if not any(state.startswith(("idle", "mix", "alloc")) for state in states):
        _skip_or_fail(f"no node of Slurm partition {partition!r} is usable: {states}")
    return partition


@pytest.fixture(scope="session")
def slurm_user() -> pwd.struct_passwd:
    """The unprivileged user that runs the dispatcher, hence owns the Slurm jobs."""
    user = ensure_user(_skip_or_fail)
    if os.geteuid() == 0:
        problem = user_can_run_python(user)
        if problem:
            _skip_or_fail(problem)
    elif os.geteuid() != user.pw_uid:
        _skip_or_fail(f"run the Slurm tests as root or as {user.pw_name}")
    return user


@pytest.fixture
def workdir(slurm: str, slurm_user: pwd.struct_passwd) -> Iterator[Path]:
    """A folder the test user owns, under a world-traversable parent; its jobs cancelled after."""
    base = Path(tempfile.mkdtemp(prefix="deblend-slurm-"))
    base.chmod(0o755)
    folder = base / "work"
    for path in (folder, folder / "scratch", folder / "slurm-logs", folder / "dask"):
        path.mkdir()
        os.chown(path, slurm_user.pw_uid, slurm_user.pw_gid)
    yield folder
    cancel_worker_jobs(slurm_user.pw_name)
    shutil.rmtree(base, ignore_errors=True)
