"""Sandboxes started ahead of their jobs (``ReadySandboxes``), and jobs the scheduler lets go.

A worker starts the next job's sandbox while it waits, so that ramp-workflow and the kit are
loaded before the job comes. What a student must never notice: a stale kit, another
submission's files, a sandbox shared between two jobs, processes or folders left behind.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import distributed
import psutil
import pytest

from server.engine.job import JobKind, JobOutcome, JobSpec
from server.engine.tasks import close_ready_sandboxes, run_job_task
from server.engine.worker import ReadySandboxes, run_job
from tests.engine.helpers import sandbox_processes, wait_for
from tests.kits.public_kit import ELEMENT_FILE, write_public_kit

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

# Prints how long before fit() its interpreter started, and a tag set per test.
REPORTS_START = """
import time
from pathlib import Path

from sklearn.dummy import DummyClassifier

_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
_booted_at = time.time() - float(Path("/proc/uptime").read_text().split()[0])
STARTED_AT = _booted_at + _ticks / 100  # CLK_TCK is 100 on Linux


class Reporting(DummyClassifier):
    def fit(self, X, y):
        print(f"interpreter started {STARTED_AT:.2f} tag TAG", flush=True)
        return super().fit(X, y)


def get_estimator():
    return Reporting(strategy="prior")
"""


def launched_sandboxes() -> list[psutil.Process]:
    """The bwrap processes this test process started that still run (zombies have ended)."""
    running = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.name() == "bwrap" and child.status() != psutil.STATUS_ZOMBIE:
                running.append(child)
    return running


def reporting(tag: str) -> str:
    return REPORTS_START.replace("TAG", tag)


def started_at(result) -> float:  # noqa: ANN001
    line = next(line for line in result.log_tail.splitlines() if "interpreter started" in line)
    return float(line.split()[2])


@pytest.fixture
def ready() -> Iterator[ReadySandboxes]:
    sandboxes = ReadySandboxes(capacity=1)
    yield sandboxes
    sandboxes.close()


@pytest.fixture
def own_kit(tmp_path: Path) -> tuple[Path, Path]:
    """A kit of this test alone (the test edits it), readable by the sandbox's uid."""
    root = tmp_path / "kits"
    root.mkdir(mode=0o755)
    for folder in (tmp_path, root):
        folder.chmod(0o755)
    write_public_kit(root / "iris", root / "hidden")
    return root / "iris", root / "hidden"


def test_the_next_job_finds_its_sandbox_started_before_it_came(
    make_spec: Callable[..., JobSpec], ready: ReadySandboxes, tmp_path: Path
) -> None:
    first = run_job(make_spec(reporting("one"), kind=JobKind.QUICK_CHECK), tmp_path, ready=ready)
    assert first.outcome is JobOutcome.SUCCEEDED, first.error_summary
    time.sleep(1.0)  # the job comes a while after the last one ended
    given_at = time.time()
    spec = make_spec(reporting("two"), kind=JobKind.QUICK_CHECK, submission_id=8)
    second = run_job(spec, tmp_path, ready=ready)
    assert second.outcome is JobOutcome.SUCCEEDED, second.error_summary
    # Its own files, in an interpreter that was up before the job was given.
    assert "tag two" in second.log_tail and "tag one" not in second.log_tail
    assert started_at(second) < given_at - 0.5
    # A full job takes none of a quick check's sandboxes: it starts its own, and is scored.
    full = run_job(make_spec(reporting("three")), tmp_path, ready=ready)
    assert full.outcome is JobOutcome.SUCCEEDED, full.error_summary
    assert {row.split for row in full.scores} >= {"valid", "public", "private"}
    assert started_at(full) > given_at
    # The quick check's sandbox still waits beside the full run's: one per kind of job.
    given_at = time.time()
    spec = make_spec(reporting("four"), kind=JobKind.QUICK_CHECK, submission_id=9)
    fourth = run_job(spec, tmp_path, ready=ready)
    assert "tag four" in fourth.log_tail
    assert started_at(fourth) < given_at


def test_a_failing_submission_in_a_ready_sandbox_reports_its_own_traceback(
    make_spec: Callable[..., JobSpec], ready: ReadySandboxes, tmp_path: Path
) -> None:
    source = "def get_estimator():\n    raise RuntimeError('broken on purpose')\n"
    run_job(make_spec(reporting("warm-up"), kind=JobKind.QUICK_CHECK), tmp_path, ready=ready)
    result = run_job(make_spec(source, kind=JobKind.QUICK_CHECK), tmp_path, ready=ready)
    assert result.outcome is JobOutcome.FAILED
    assert "RuntimeError: broken on purpose" in result.error_summary
    assert "estimator.py" in (result.error_traceback or "")


def test_an_edited_kit_is_loaded_anew(
    make_spec: Callable[..., JobSpec],
    ready: ReadySandboxes,
    own_kit: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    kit_dir, hidden_dir = own_kit
    fields = {"kit_dir": str(kit_dir), "public_data_dir": str(kit_dir)}
    fields["hidden_data_dir"] = str(hidden_dir)
    spec = make_spec(reporting("one"), kind=JobKind.QUICK_CHECK, **fields)
    assert run_job(spec, tmp_path / "scratch", ready=ready).outcome is JobOutcome.SUCCEEDED
    problem = kit_dir / "problem.py"
    problem.write_text('print("kit edited", flush=True)\n' + problem.read_text())
    result = run_job(spec, tmp_path / "scratch", ready=ready)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    assert "kit edited" in result.log_tail


def test_a_sandbox_that_died_waiting_is_replaced(
    make_spec: Callable[..., JobSpec], ready: ReadySandboxes, tmp_path: Path
) -> None:
    # The host's OOM killer, or a signal to the worker's group, ends a waiting sandbox: the
    # next job starts a sandbox of its own and runs as on a fresh worker.
    run_job(make_spec(reporting("one"), kind=JobKind.QUICK_CHECK), tmp_path, ready=ready)
    wait_for(lambda: sandbox_processes() != [], timeout=10, what="the waiting sandbox")
    assert len(launched_sandboxes()) == 1
    for process in sandbox_processes():
        process.kill()
    # bwrap, started by this process under its own uid, ends just after what it ran.
    wait_for(lambda: launched_sandboxes() == [], timeout=10, what="the waiting sandbox dead")
    spec = make_spec(reporting("two"), kind=JobKind.QUICK_CHECK, submission_id=8)
    result = run_job(spec, tmp_path, ready=ready)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    assert "tag two" in result.log_tail


def test_closing_discards_the_waiting_sandboxes_and_their_folders(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    ready = ReadySandboxes(capacity=1)
    scratch = tmp_path / "scratch"
    run_job(make_spec(reporting("one"), kind=JobKind.QUICK_CHECK), scratch, ready=ready)
    assert len(list(scratch.iterdir())) == 1  # the next job's folder, its sandbox waiting
    wait_for(lambda: sandbox_processes() != [], timeout=10, what="the waiting sandbox")
    ready.close()
    wait_for(lambda: sandbox_processes() == [], timeout=10, what="no sandbox process left")
    assert list(scratch.iterdir()) == []


def test_a_waiting_sandbox_is_discarded_after_its_idle_time(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    ready = ReadySandboxes(capacity=1, idle_seconds=1.0)
    scratch = tmp_path / "scratch"
    try:
        run_job(make_spec(reporting("one"), kind=JobKind.QUICK_CHECK), scratch, ready=ready)
        wait_for(lambda: not any(scratch.iterdir()), timeout=15, what="the idle one's folder gone")
        assert sandbox_processes() == []
        # The next job starts its own sandbox, as on a fresh worker.
        result = run_job(make_spec(reporting("two"), kind=JobKind.QUICK_CHECK), scratch)
        assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    finally:
        ready.close()


SLEEPS_IN_FIT = """
import time

from sklearn.dummy import DummyClassifier


class Slow(DummyClassifier):
    def fit(self, X, y):
        time.sleep(120)
        return super().fit(X, y)


def get_estimator():
    return Slow()
"""


def test_a_job_its_client_let_go_stops_its_sandbox(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    """A dispatcher that dies after submitting a job but before publishing it leaves a task no
    client wants: the scheduler releases it, and the worker must stop its sandbox rather than
    run it to the end while a new dispatcher runs the job again."""
    scratch = tmp_path / "scratch"
    spec = make_spec(SLEEPS_IN_FIT, kind=JobKind.QUICK_CHECK)
    assert ELEMENT_FILE in spec.files
    # In-process workers: their sandboxes are this process's and can be watched.
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        client = distributed.Client(cluster)
        future = client.submit(run_job_task, spec, str(scratch), "log", key="deblend-7-1-quick")
        wait_for(lambda: sandbox_processes() != [], timeout=60, what="the job's sandbox")
        time.sleep(2.0)  # well into fit()
        del future
        client.close()  # no client wants the task any more
        wait_for(lambda: sandbox_processes() == [], timeout=20, what="the sandbox stopped")
        # Let go, the job starts no sandbox for a next job either.
        time.sleep(1.0)
        assert sandbox_processes() == []
    close_ready_sandboxes()
    shutil.rmtree(scratch, ignore_errors=True)
