"""Hostile submissions, in both sandbox modes: each ends in a clean JobResult and leaves the
machine as it was.

Root mode runs the worker side here, as root. Rootless mode runs it as the unprivileged test
user (``runuser``), as a Slurm job or a GPU server without root daemons would: the student's
processes then share the worker's host uid, and must still not reach it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import sandbox_processes
from unprivileged import UserRunner, for_user, processes_of

from server.engine.job import JobKind, JobOutcome, JobResult, JobSpec
from server.engine.sandbox import SandboxMode
from server.engine.worker import run_job

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

# The attack runs in fit(); the estimator then predicts the class frequencies of the training set.
# ramp-workflow refuses sources that name open() or os.listdir(); an attacker spells them
# otherwise, and so do these attacks (``fopen``, ``list_dir``).
TEMPLATE = """
import builtins, os, sys, time
from sklearn.dummy import DummyClassifier

fopen = getattr(builtins, "op" + "en")
list_dir = getattr(os, "list" + "dir")


class Hostile(DummyClassifier):
    def fit(self, X, y):
{attack}
        return super().fit(X, y)


def get_estimator():
    return Hostile(strategy="prior")
"""


def hostile(attack: str) -> str:
    body = "\n".join("        " + line for line in attack.strip().splitlines())
    return TEMPLATE.format(attack=body)


def run_as_worker(
    spec: JobSpec, scratch: str, bystander: bool = False
) -> tuple[JobResult, list[str], bool]:
    """The worker's side: run the job, collecting the live log; with ``bystander``, a process
    of the worker's own user sleeps meanwhile. Returns (result, log chunks, bystander alive)."""
    chunks: list[str] = []
    sleeper = subprocess.Popen(["sleep", "120"]) if bystander else None
    try:
        result = run_job(spec, Path(scratch), log_sink=chunks.append)
        alive = sleeper is None or sleeper.poll() is None
    finally:
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
    return result, chunks, alive


@dataclass
class Worker:
    """Where a job runs: this process (root mode) or the unprivileged user (rootless)."""

    mode: SandboxMode
    workdir: Path  # the worker's own folder: scratch and deployed copies
    kit_dirs: tuple[Path, Path]  # (kit, hidden set) as the worker reads them
    runner: UserRunner | None
    original_dirs: tuple[Path, Path]

    def run(self, spec: JobSpec, bystander: bool = False) -> tuple[JobResult, list[str], bool]:
        scratch = str(self.workdir / "scratch")
        if self.runner is None:
            return run_as_worker(spec, scratch, bystander)
        user_spec = for_user(spec, self.original_dirs, self.kit_dirs)
        return self.runner(run_as_worker, user_spec, scratch, bystander)

    def own(self, path: Path) -> None:
        """Hand a folder tree to the worker's user (the hidden set, which only it reads)."""
        if self.runner is not None:
            for item in [path, *path.rglob("*")]:
                os.chown(item, self.runner.user.pw_uid, self.runner.user.pw_gid)

    def leftovers(self) -> list:
        if self.runner is None:
            return sandbox_processes()
        return processes_of(self.runner.user.pw_uid)


@pytest.fixture(params=[SandboxMode.ROOT, SandboxMode.ROOTLESS])
def worker(
    request: pytest.FixtureRequest, tmp_path: Path, kit_dirs: tuple[Path, Path]
) -> Iterator[Worker]:
    if request.param is SandboxMode.ROOT:
        if os.geteuid() != 0:
            from livestack import skip_or_fail

            skip_or_fail(f"root mode needs the tests to run as root, not uid {os.geteuid()}")
        found = Worker(SandboxMode.ROOT, tmp_path, kit_dirs, None, kit_dirs)
    else:
        runner = request.getfixturevalue("user_runner")
        user_dirs = request.getfixturevalue("user_kit_dirs")
        found = Worker(SandboxMode.ROOTLESS, runner.workdir, user_dirs, runner, kit_dirs)
    yield found
    assert found.leftovers() == []


def test_hostile_reading_hidden_labels_sees_nothing(
    worker: Worker, make_spec: Callable[..., JobSpec]
) -> None:
    kit_dir, hidden_dir = worker.kit_dirs
    # Search every folder but the system's and Python's own (thousands of files, no data).
    attack = f"""
found = []
for folder, subfolders, files in os.walk("/"):
    subfolders[:] = [s for s in subfolders if folder != "/" or s not in ("proc", "usr", "dev")]
    subfolders[:] = [s for s in subfolders if not s.startswith("python3")]
    found += [os.path.join(folder, f) for f in files if f.endswith(".csv")]
print("FOUND", sorted(found), os.path.exists({str(hidden_dir)!r}), flush=True)
"""
    result, _, _ = worker.run(make_spec(hostile(attack)))
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    # The kit's public data only (bound at /data/public and at the kit's own path).
    roots, names = ("/data/public", str(kit_dir)), ("test", "train")
    public = sorted(f"{root}/data/{name}.csv" for root in roots for name in names)
    assert f"FOUND {public} False" in result.log_tail
    assert {row.split for row in result.scores} >= {"public", "private"}


def test_hostile_reading_a_hidden_set_kept_inside_the_kit_sees_nothing(
    worker: Worker, make_spec: Callable[..., JobSpec]
) -> None:
    # A careless deployment: the hidden set sits inside the kit's folder, which is bound.
    kit = worker.workdir / "kit"
    shutil.copytree(worker.kit_dirs[0], kit)
    shutil.copytree(worker.kit_dirs[1], kit / "hidden")
    worker.own(kit / "hidden")
    attack = f"""
print("HIDDEN", list_dir("/data/public/hidden"), list_dir({str(kit / "hidden")!r}), flush=True)
"""
    paths = {
        "kit_dir": str(kit),
        "public_data_dir": str(kit),
        "hidden_data_dir": str(kit / "hidden"),
    }
    spec = make_spec(hostile(attack), **paths)
    result, _, _ = worker.run(spec)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    assert "HIDDEN [] []" in result.log_tail
    assert {row.split for row in result.scores} >= {"train", "valid", "public", "private"}


def test_hostile_network_connection_fails(
    worker: Worker, make_spec: Callable[..., JobSpec]
) -> None:
    attack = "import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=3)"
    result, _, _ = worker.run(make_spec(hostile(attack), kind=JobKind.QUICK_CHECK))
    assert result.outcome is JobOutcome.FAILED
    assert "OSError" in (result.error_summary or "")
    assert "unreachable" in (result.error_summary or "")


def test_hostile_fork_bomb_is_contained(worker: Worker, make_spec: Callable[..., JobSpec]) -> None:
    attack = "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    limits = {"max_processes": 48, "timeout_seconds": 4}
    spec = make_spec(hostile(attack), kind=JobKind.QUICK_CHECK, limits=limits)
    result, _, bystander_alive = worker.run(spec, bystander=True)
    # Forks fail past 48 tasks: the bomb spins until the timeout, the worker never notices.
    assert result.outcome is JobOutcome.TIMED_OUT, result.error_summary
    assert result.error_summary == f"timed out after {4 / 60:g} min"
    assert result.wall_seconds < 15
    assert result.peak_memory_mb is not None and result.peak_memory_mb < 2048
    assert bystander_alive


def test_hostile_disk_filler_hits_the_scratch_cap(
    worker: Worker, make_spec: Callable[..., JobSpec]
) -> None:
    attack = """
chunk = b"x" * 2**20
with fopen("/scratch/fill", "wb") as out:
    while True:
        out.write(chunk)
"""
    result, _, _ = worker.run(make_spec(hostile(attack), kind=JobKind.QUICK_CHECK))
    assert result.outcome is JobOutcome.FAILED
    assert (result.error_summary or "").startswith("scratch disk full (limit 50 MB): OSError")
    assert not Path("/scratch/fill").exists() and not Path("/tmp/fill").exists()


def test_hostile_infinite_loop_times_out(
    worker: Worker, make_spec: Callable[..., JobSpec]
) -> None:
    spec = make_spec(hostile("while True:\n    pass"), limits={"timeout_seconds": 3})
    result, _, _ = worker.run(spec)
    assert result.outcome is JobOutcome.TIMED_OUT
    assert result.error_summary == "timed out after 0.05 min"
    assert result.wall_seconds < 10


def test_hostile_killing_everything_only_kills_the_sandbox(
    worker: Worker, make_spec: Callable[..., JobSpec]
) -> None:
    attack = """
try:
    os.kill(os.getppid(), 9)  # the sandbox's init: another uid, or its namespace's init
except PermissionError:
    pass
print("parent survived", flush=True)  # had it died, its pid namespace would take us along
os.system("kill -9 -1")  # a shell kills every process it may signal: the submission too
"""
    spec = make_spec(hostile(attack), kind=JobKind.QUICK_CHECK)
    result, _, bystander_alive = worker.run(spec, bystander=True)
    assert result.outcome is JobOutcome.FAILED
    assert "ended without a result (killed by signal 9)" in (result.error_summary or "")
    assert "parent survived" in result.log_tail
    assert bystander_alive


def test_hostile_huge_output_is_capped(worker: Worker, make_spec: Callable[..., JobSpec]) -> None:
    attack = """
block = ("x" * 1023 + "\\n") * 1024
for _ in range(1024):  # 1 GiB
    sys.stdout.write(block)
print("END")
"""
    spec = make_spec(hostile(attack), kind=JobKind.QUICK_CHECK)
    result, chunks, _ = worker.run(spec)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    assert len(result.log_tail) <= 64 * 1024
    assert result.log_tail.rstrip().endswith("END")
    assert sum(map(len, chunks)) < 16 * 2**20  # at most 64 KB per flush reached the sink


def test_hostile_memory_hog_is_out_of_memory(
    worker: Worker, make_spec: Callable[..., JobSpec]
) -> None:
    attack = "hog = bytearray(3 * 2**30)\ntime.sleep(30)"
    spec = make_spec(hostile(attack), kind=JobKind.QUICK_CHECK, limits={"memory_limit_mb": 1024})
    result, _, _ = worker.run(spec)
    assert result.outcome is JobOutcome.OUT_OF_MEMORY
    assert result.error_summary == "out of memory (limit 1024 MB)"
