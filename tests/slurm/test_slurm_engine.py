"""The Slurm deployment end to end: the dispatcher with ``dask_cluster = "slurm"`` asks for
workers through dask-jobqueue; they start as Slurm jobs of an unprivileged user and score the
submissions. Each fault is done for real: a worker's Slurm job cancelled (``scancel``) or
reaching its walltime, the dispatcher killed and started again. Workers left idle are released
and asked for again when submissions arrive.

Jobs are recorded stand-ins (slurm_helpers.py) where their content does not matter, so each
test takes the time of its Slurm jobs, not of training.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from helpers import create_event_db, get, submit, wait_for
from sqlalchemy import select

from server.db import make_engine, make_session_factory
from server.models import Submission, SubmissionFile, SubmissionScore
from server.states import SubmissionState
from tests.engine.unprivileged import processes_of
from tests.kits.public_kit import ELEMENT_FILE, SUBMISSIONS, write_public_kit
from tests.slurm.slurm_helpers import DispatcherProcess, job_runs, slurm_settings, worker_jobs

S = SubmissionState
# Time for Slurm to start a worker job and for its worker to connect, on a loaded machine.
WORKER_START_SECONDS = 120


@pytest.fixture
def db(workdir: Path, slurm_user: pwd.struct_passwd):
    """A SQLite database both this process and the user's dispatcher write."""
    url = f"sqlite:///{workdir / 'db.sqlite'}"
    create_event_db(url, max_retries=2, timeout_seconds=600)
    os.chown(workdir / "db.sqlite", slurm_user.pw_uid, slurm_user.pw_gid)
    engine = make_engine(url)
    yield url, make_session_factory(engine)
    engine.dispose()


def dispatcher(workdir, db, user, max_jobs=2, idle_seconds=600.0, walltime="00:10:00"):
    settings = slurm_settings(workdir, max_jobs, idle_seconds, walltime)
    log = workdir / "dispatcher.log"
    return DispatcherProcess(user, db[0], workdir / "scratch", settings, log)


def state(factory, sid: int) -> SubmissionState:
    return get(factory, sid).state


def all_scored(factory, sids: list[int]) -> bool:
    return all(state(factory, sid) is S.SCORED for sid in sids)


def test_slurm_workers_are_user_jobs_that_score_and_come_and_go(workdir, db, slurm_user):
    scratch, factory = workdir / "scratch", db[1]
    process = dispatcher(workdir, db, slurm_user, max_jobs=2, idle_seconds=6)
    try:
        sids = [submit(factory, {"sleep-full-0": 3}, team_id=t) for t in (1, 2, 1)]
        wait_for(lambda: all_scored(factory, sids), 3 * WORKER_START_SECONDS, "all scored")
        runs = [run for sid in sids for run in job_runs(scratch, sid, 0, "full")]
        assert {run["uid"] for run in runs} == {slurm_user.pw_uid}
        first_jobs = {run["slurm_job"] for run in runs}
        assert len(first_jobs) == 2 and None not in first_jobs  # one worker per job, at most 2
        # Idle: the workers are released, their Slurm jobs end.
        wait_for(lambda: not worker_jobs(slurm_user.pw_name), 120, "the idle workers released")
        # A new submission: a worker is asked for again.
        sid = submit(factory, {})
        wait_for(lambda: state(factory, sid) is S.SCORED, WORKER_START_SECONDS, "scored again")
        [run] = job_runs(scratch, sid, 0, "full")
        assert run["slurm_job"] not in first_jobs
    finally:
        process.stop()
    assert "dispatcher closed" in process.output()


def running_run(scratch: Path, sid: int, attempt: int, kind: str) -> dict | None:
    """The run of this job that started and has not ended, if any."""
    runs = job_runs(scratch, sid, attempt, kind)
    return runs[-1] if runs and "end" not in runs[-1] else None


def assert_rerun_on_a_new_worker(factory, scratch: Path, sid: int, lost_job: str) -> None:
    """The job lost with its worker ran again, on another Slurm job, and was not charged."""
    submission = get(factory, sid)
    assert submission.state is S.SCORED
    assert submission.attempts == 1 and not submission.platform_fault
    [lost] = job_runs(scratch, sid, 0, "full")
    assert lost["slurm_job"] == lost_job and "end" not in lost  # it never finished
    [rerun] = job_runs(scratch, sid, 1, "full")
    assert rerun["slurm_job"] != lost_job and "end" in rerun
    assert submission.compute_seconds == pytest.approx(2.0)  # both successful jobs, 1 s each


def test_slurm_worker_job_cancelled_mid_run_is_rerun_elsewhere(workdir, db, slurm_user):
    scratch, factory = workdir / "scratch", db[1]
    process = dispatcher(workdir, db, slurm_user, max_jobs=1)
    try:
        sid = submit(factory, {"sleep-full-0": 600})
        wait_for(lambda: running_run(scratch, sid, 0, "full"), WORKER_START_SECONDS, "training")
        lost_job = running_run(scratch, sid, 0, "full")["slurm_job"]
        subprocess.run(["scancel", lost_job], check=True)
        wait_for(lambda: state(factory, sid) is S.SCORED, 2 * WORKER_START_SECONDS, "rerun")
        assert_rerun_on_a_new_worker(factory, scratch, sid, lost_job)
    finally:
        process.stop()


def test_slurm_worker_job_at_its_walltime_is_rerun_elsewhere(workdir, db, slurm_user):
    scratch, factory = workdir / "scratch", db[1]
    # Slurm counts walltime in minutes and enforces it every 30 s: killed 60-90 s after start.
    process = dispatcher(workdir, db, slurm_user, max_jobs=1, walltime="00:01:00")
    try:
        sid = submit(factory, {"sleep-full-0": 600})
        wait_for(lambda: running_run(scratch, sid, 0, "full"), WORKER_START_SECONDS, "training")
        lost_job = running_run(scratch, sid, 0, "full")["slurm_job"]
        wait_for(lambda: state(factory, sid) is S.SCORED, 150 + WORKER_START_SECONDS, "rerun")
        assert_rerun_on_a_new_worker(factory, scratch, sid, lost_job)
    finally:
        process.stop()


# A real submission of the iris kit; while the file ``hold`` exists in the kit, its full job
# waits in fit() (the quick check, RAMP_TEST_MODE, does not).
HELD_ESTIMATOR = """
import os, time
from sklearn.linear_model import LogisticRegression

HOLD = {hold!r}


class Held(LogisticRegression):
    def fit(self, X, y):
        while os.path.exists(HOLD) and not os.environ.get("RAMP_TEST_MODE"):
            time.sleep(0.2)
        return super().fit(X, y)


def get_estimator():
    return Held(max_iter=500)
"""


def submit_source(factory, name: str, source: str, team_id: int) -> int:
    with factory() as session:
        sub = Submission(event_id=1, team_id=team_id, name=f"s{time.monotonic_ns()}")
        sub.files.append(SubmissionFile(name=name, content=source.encode(), sha256="0"))
        session.add(sub)
        session.commit()
        return sub.id


def sandboxes_of(user: pwd.struct_passwd) -> list[psutil.Process]:
    """The user's processes running a job's entry program in a sandbox (a job's, or one
    started ahead of the next job)."""
    found = []
    for process in processes_of(user.pw_uid):
        try:
            if "/entry.py" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:
            pass  # ended since it was listed
    return found


def test_slurm_dispatcher_killed_and_restarted_loses_and_repeats_nothing(workdir, slurm_user):
    # Real sandboxed jobs (rootless: the workers are the user's) on the user's copy of the kit.
    kit, hidden, scratch = workdir / "kit", workdir / "hidden", workdir / "scratch"
    write_public_kit(kit, hidden)
    for path in [hidden, *hidden.rglob("*")]:
        os.chown(path, slurm_user.pw_uid, slurm_user.pw_gid)
    (kit / "hold").touch()
    url = f"sqlite:///{workdir / 'db.sqlite'}"
    paths = {"kit_dir": str(kit), "public_data_dir": str(kit), "hidden_data_dir": str(hidden)}
    create_event_db(url, **paths, max_retries=2, timeout_seconds=600)
    os.chown(workdir / "db.sqlite", slurm_user.pw_uid, slurm_user.pw_gid)
    factory = make_session_factory(make_engine(url))
    settings = slurm_settings(workdir, max_jobs=2, idle_seconds=600, walltime="00:10:00")
    check = {"readable": {"the kit": str(kit), "the hidden set": str(hidden)}}
    check["scratch"] = str(scratch)

    def start() -> DispatcherProcess:
        log = workdir / "dispatcher.log"
        return DispatcherProcess(slurm_user, url, scratch, settings, log, "real", check)

    process = start()
    held = HELD_ESTIMATOR.format(hold=str(kit / "hold"))
    sids = [submit_source(factory, ELEMENT_FILE, held, team_id=1)]
    sids.append(submit_source(factory, ELEMENT_FILE, SUBMISSIONS["logistic"], team_id=2))
    try:
        wait_for(
            lambda: state(factory, sids[0]) is S.TRAINING and sandboxes_of(slurm_user),
            3 * WORKER_START_SECONDS,
            "the held job training in its sandbox",
        )
        process.stop(signal.SIGKILL)  # its scheduler dies with it
        # The workers lose their scheduler and close, stopping their sandboxes at once: the
        # held job, still waiting in fit(), must not run on beside its re-run.
        wait_for(lambda: not sandboxes_of(slurm_user), 60, "the lost job's sandbox stopped")
        process = start()
        (kit / "hold").unlink()
        wait_for(lambda: all_scored(factory, sids), 3 * WORKER_START_SECONDS, "all scored")
    finally:
        process.stop()
    for sid in sids:
        submission = get(factory, sid)
        assert submission.attempts == 0 and not submission.platform_fault  # not counted
        query = select(SubmissionScore.split).where(SubmissionScore.submission_id == sid)
        with factory() as session:
            splits = {str(split) for split in session.scalars(query)}
        assert {"public", "private"} <= splits
    logs = "".join(path.read_text() for path in (workdir / "slurm-logs").iterdir())
    assert "worker host check passed" in logs
