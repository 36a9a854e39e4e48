"""Helpers of the Slurm tests: the dispatcher with ``dask_cluster = "slurm"`` in a process of
the unprivileged test user, a job that records where it ran, and Slurm's own view (squeue).

The dispatcher process asks for workers through dask-jobqueue, so the Slurm jobs (the
workers) are the unprivileged user's, as at a computing centre. A recorded job appends one JSON
line per run to ``<scratch>/<submission>-<attempt>-<kind>.runs``: when it started and ended,
its pid and uid, and the Slurm job that ran it.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WORKER_JOB_NAME = "deblend-test-worker"
SLURM_PARTITION_ENV = "DEBLEND_TEST_SLURM_PARTITION"


def _make_recorded_job():
    # A local function: cloudpickle ships it by value, the workers need not import this module.
    def recorded_job(spec, scratch_root, topic):
        """Records its run, sleeps as scripted for this (kind, attempt), then succeeds."""
        import distributed

        from server.engine.job import JobOutcome, JobResult

        script = json.loads(next(iter(spec.files.values())))
        marker = Path(scratch_root) / f"{spec.submission_id}-{spec.attempt}-{spec.kind}.runs"
        run = {"pid": os.getpid(), "uid": os.getuid(), "slurm_job": os.environ.get("SLURM_JOB_ID")}
        run["start"] = time.time()
        with marker.open("a") as out:
            out.write(json.dumps(run) + "\n")
        time.sleep(script.get(f"sleep-{spec.kind}-{spec.attempt}", 0.0))
        with marker.open("a") as out:
            out.write(json.dumps(run | {"end": time.time()}) + "\n")
        return JobResult(
            submission_id=spec.submission_id,
            attempt=spec.attempt,
            kind=spec.kind,
            outcome=JobOutcome.SUCCEEDED,
            wall_seconds=1.0,
            worker_address=distributed.get_worker().address,
        )

    return recorded_job


recorded_job = _make_recorded_job()


def _make_timed_job():
    # Shipped by value too. The dispatcher's own job function, wrapped: it records when the
    # task ran and what the student printed (the benchmark reads its "BENCH" lines).
    def timed_job(spec, scratch_root, topic):
        from server.engine.tasks import run_job_task

        start = time.time()
        result = run_job_task(spec, scratch_root, topic)
        record = {"start": start, "end": time.time(), "log": result.log_tail}
        key = f"{spec.submission_id}-{spec.attempt}-{spec.kind}"
        (Path(scratch_root) / f"{key}.json").write_text(json.dumps(record))
        return result

    return timed_job


timed_job = _make_timed_job()


def job_runs(scratch: Path, sid: int, attempt: int, kind: str) -> list[dict]:
    """The runs of one job: {pid, uid, slurm_job, start[, end]}, merged per run, in order."""
    marker = Path(scratch) / f"{sid}-{attempt}-{kind}.runs"
    runs: dict[tuple[int, float], dict] = {}
    for line in marker.read_text().splitlines() if marker.exists() else []:
        record = json.loads(line)
        runs.setdefault((record["pid"], record["start"]), {}).update(record)
    return sorted(runs.values(), key=lambda run: run["start"])


def slurm_settings(workdir: Path, max_jobs: int, idle_seconds: float, walltime: str) -> dict:
    """The dispatcher's settings for the one-node test cluster (deploy/dask/one-node-slurm.sh)."""
    options = {
        "job_name": WORKER_JOB_NAME,
        "queue": os.environ.get(SLURM_PARTITION_ENV, "cpu"),
        "cores": 1,
        "processes": 1,
        "memory": "2GB",
        "walltime": walltime,
        "python": sys.executable,
        "log_directory": str(workdir / "slurm-logs"),
        "local_directory": str(workdir / "dask"),
        "scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"},
        "worker_extra_args": ["--resources", "GPU=1"],
    }
    return {
        "DASK_CLUSTER": "slurm",
        "DASK_SLURM": options,
        "DASK_SLURM_JOBS": max_jobs,
        "DASK_SLURM_IDLE_SECONDS": idle_seconds,
    }


def run_dispatcher(
    db_url: str, scratch: str, settings: dict[str, Any], job: str, check: dict | None
) -> None:
    """Entry point of the dispatcher process: until SIGTERM, then closes its Slurm cluster."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from server.db import make_engine, make_session_factory
    from server.engine.cluster import connect
    from server.engine.dispatcher import Dispatcher
    from server.engine.tasks import run_job_task
    from server.engine.worker_plugins import WorkerHostCheck

    connection = connect(settings)
    if check is not None:
        connection.require(WorkerHostCheck.here(check["readable"], check["scratch"]))
    dispatcher = Dispatcher(
        make_session_factory(make_engine(db_url)),
        "ev",
        connection,
        scratch_root=scratch,
        job_function={"recorded": recorded_job, "real": run_job_task, "timed": timed_job}[job],
        poll_seconds=0.2,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("dispatcher up", flush=True)
    try:
        dispatcher.run(stop)
    finally:
        dispatcher.close()
        connection.close()
        print("dispatcher closed", flush=True)


class DispatcherProcess:
    """The Slurm dispatcher in a process of ``user``; its output goes to ``log``."""

    def __init__(
        self,
        user: pwd.struct_passwd,
        db_url: str,
        scratch: Path,
        settings: dict[str, Any],
        log: Path,
        job: str = "recorded",
        check: dict | None = None,
    ) -> None:
        """``job``: "recorded" (a stand-in), "real" (the dispatcher's own), "timed" (the
        dispatcher's own, recording its timing and output)."""
        arguments = json.dumps([db_url, str(scratch), settings, job, check])
        code = (
            f"import json, sys; sys.path.insert(0, {str(REPO)!r}); "
            "from tests.slurm.slurm_helpers import run_dispatcher; "
            f"run_dispatcher(*json.loads({arguments!r}))"
        )
        command = [sys.executable, "-c", code]
        if os.geteuid() != user.pw_uid:
            command = ["runuser", "-u", user.pw_name, "--", *command]
        env = {k: v for k, v in os.environ.items() if k != "DEBLEND_SANDBOX_MODE"}
        env |= {"HOME": user.pw_dir, "USER": user.pw_name}
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=scratch,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def python_pid(self) -> int:
        """The dispatcher's Python (``runuser`` is its parent when the tests run as root)."""
        import psutil

        process = psutil.Process(self.process.pid)
        children = process.children()
        return children[0].pid if children else process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        if self.process.poll() is None:
            os.kill(self.python_pid(), sig)
        self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def worker_jobs(user: str) -> dict[str, str]:
    """The test user's worker jobs Slurm holds: job id -> state (PENDING, RUNNING...)."""
    command = ["squeue", "-h", "-u", user, "-n", WORKER_JOB_NAME, "-o", "%i %T"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def cancel_worker_jobs(user: str) -> None:
    subprocess.run(["scancel", "-u", user, "-n", WORKER_JOB_NAME], check=False)
