"""Fixtures of the engine tests: a small public-style ramp-workflow kit, its hidden set, specs.

The kit (tests/kits/public_kit.py) is a stock scikit-learn kit on the iris table: fast, and
written as public RAMP kits are, so the engine is tested on no kit of its own. The hidden set
lives in its own temporary folder, outside every path the sandbox binds. The PostgreSQL
helpers (a throw-away schema, ``skip_or_fail``) are shared with the browser and
production-stack tests, in tests/browser/livestack.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.engine.job import JobKind, JobSpec
from tests.engine.unprivileged import UserRunner, ensure_user, user_can_run_python
from tests.job_specs import job_spec
from tests.kits.public_kit import ELEMENT_FILE, write_public_kit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

SPLIT_SEED = 1234


@pytest.fixture(scope="session")
def kit_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(kit folder with its public data, hidden data folder)."""
    root = tmp_path_factory.mktemp("kits")
    root.chmod(0o755)  # mktemp makes it 0700: the sandbox's uid must read the kit
    kit_dir, hidden_dir = root / "iris", root / "iris-hidden"
    write_public_kit(kit_dir, hidden_dir)
    return kit_dir, hidden_dir


@pytest.fixture(scope="session")
def kit_dir(kit_dirs: tuple[Path, Path]) -> Path:
    return kit_dirs[0]


@pytest.fixture(scope="session")
def hidden_dir(kit_dirs: tuple[Path, Path]) -> Path:
    return kit_dirs[1]


@pytest.fixture(scope="session")
def sandbox() -> None:
    """Skip where bubblewrap (or root, which it needs to drop privileges) is missing.

    In CI (``CI`` set) that is a broken set-up, not a reason to skip: fail instead.
    """
    from livestack import require_sandbox

    require_sandbox()


@pytest.fixture
def make_spec(kit_dir: Path, hidden_dir: Path) -> Callable[..., JobSpec]:
    """A JobSpec for an ``estimator.py`` source, with small limits unless told otherwise."""

    def make(
        source: str, kind: JobKind = JobKind.FULL, limits: dict | None = None, **overrides: object
    ) -> JobSpec:
        fields: dict[str, object] = {
            "files": {ELEMENT_FILE: source.encode()},
            "kit_dir": kit_dir,
            "public_data_dir": kit_dir,
            "hidden_data_dir": hidden_dir,
            "hidden_split_seed": SPLIT_SEED,
            "submission_id": 7,
        }
        return job_spec(kind=kind, limits=limits, **(fields | overrides))  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def shared_tmp() -> Iterator[Path]:
    """A temporary folder every user may traverse (pytest's own are 0700), removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="deblend-tests-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def unprivileged_user() -> pwd.struct_passwd:
    """The unprivileged user that runs the worker side of the rootless and Slurm tests."""
    from livestack import skip_or_fail

    user = ensure_user(skip_or_fail)
    if os.geteuid() not in (0, user.pw_uid):
        skip_or_fail(f"run the tests as root or as {user.pw_name}, not uid {os.geteuid()}")
    if os.geteuid() == 0:
        problem = user_can_run_python(user)
        if problem:
            skip_or_fail(problem)
    return user


@pytest.fixture
def user_runner(unprivileged_user: pwd.struct_passwd, shared_tmp: Path) -> UserRunner:
    """Calls functions as the unprivileged user (directly, when that is who runs the tests)."""
    return UserRunner(unprivileged_user, Path(tempfile.mkdtemp(dir=shared_tmp)))


@pytest.fixture(scope="session")
def user_kit_dirs(
    kit_dirs: tuple[Path, Path], shared_tmp: Path, unprivileged_user: pwd.struct_passwd
) -> tuple[Path, Path]:
    """Copies of the kit and the hidden set that the unprivileged user reads, as its worker
    would: the kit world-readable, the hidden set its own (0700)."""
    kit_dir, hidden_dir = shared_tmp / "kit", shared_tmp / "hidden"
    shutil.copytree(kit_dirs[0], kit_dir)
    shutil.copytree(kit_dirs[1], hidden_dir)
    for path in [hidden_dir, *hidden_dir.rglob("*")]:
        os.chown(path, unprivileged_user.pw_uid, unprivileged_user.pw_gid)
    return kit_dir, hidden_dir
