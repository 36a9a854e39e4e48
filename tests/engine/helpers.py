"""Helpers shared by the engine tests: a one-event database, scripted submissions and the job
that runs them (one marker line per run, so runs can be counted), a dispatcher on its own thread
or in its own process, a real ``dask scheduler`` with ``dask worker`` processes, the processes
left by sandboxes, and polling with a deadline.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy.orm import sessionmaker

from server.db import Base, make_engine, make_session_factory
from server.engine.cluster import Connection
from server.engine.dispatcher import Dispatcher
from server.engine.job import JobOutcome, JobResult
from server.engine.sandbox import uid_range
from server.models import Event, Submission, SubmissionFile, Team

DASK = str(Path(sys.executable).with_name("dask"))
ENV = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
HERE = Path(__file__).resolve().parent


def create_event_db(url: str, **event_fields: Any) -> None:
    """A fresh database holding event 1 ("ev") and its teams 1 ("a") and 2 ("b")."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        fields = {"name": "ev", "title": "Ev", "kit_dir": "/k"}
        fields |= {"public_data_dir": "/p", "hidden_data_dir": "/h"}
        session.add(Event(**(fields | event_fields)))
        session.add_all([Team(event_id=1, name="a"), Team(event_id=1, name="b")])
        session.commit()
    engine.dispose()


def submit(factory: sessionmaker, script: dict, team_id: int = 1) -> int:
    """Queue a submission whose deblender.py is a JSON ``script`` for the scripted job."""
    with factory() as session:
        sub = Submission(event_id=1, team_id=team_id, name=f"s{time.monotonic_ns()}")
        content = json.dumps(script).encode()
        sub.files.append(SubmissionFile(name="deblender.py", content=content, sha256="0"))
        session.add(sub)
        session.commit()
        return sub.id


def _make_scripted_job():
    # A local function: Dask's pickle falls back to cloudpickle, which ships it by value,
    # so the scheduler and worker processes need not import this module.
    def scripted_job(spec, scratch_root, topic):
        """Writes its pid, sleeps as scripted for this (kind, attempt), then succeeds."""
        import distributed

        script = json.loads(spec.files["deblender.py"])
        key = f"{spec.submission_id}-{spec.attempt}-{spec.kind}"
        marker = Path(scratch_root) / f"{key}.runs"
        with marker.open("a") as out:
            out.write(f"start {os.getpid()}\n")
        time.sleep(script.get(f"sleep-{spec.kind}-{spec.attempt}", 0.0))
        with marker.open("a") as out:
            out.write("done\n")
        return JobResult(
            submission_id=spec.submission_id,
            attempt=spec.attempt,
            kind=spec.kind,
            outcome=JobOutcome.SUCCEEDED,
            wall_seconds=1.0,
            worker_address=distributed.get_worker().address,
        )

    return scripted_job


scripted_job = _make_scripted_job()


def get(factory: sessionmaker, sid: int) -> Submission:
    with factory() as session:
        return session.get(Submission, sid)


def runs(scratch: Path, sid: int, attempt: int, kind: str) -> list[str]:
    """The marker lines of the scripted job's runs: "start <pid>", then "done" if it ended."""
    marker = scratch / f"{sid}-{attempt}-{kind}.runs"
    return marker.read_text().splitlines() if marker.exists() else []


def make_dispatcher(factory, connection, scratch, job_function, **kwargs: Any) -> Dispatcher:
    """A dispatcher of event "ev" polling every 0.1 s."""
    return Dispatcher(
        factory,
        "ev",
        connection,
        scratch_root=str(scratch),
        job_function=job_function,
        poll_seconds=0.1,
        **kwargs,
    )


def running(dispatcher: Dispatcher) -> tuple[threading.Event, threading.Thread]:
    """Start ``dispatcher.run`` on a daemon thread; set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def run_dispatcher_process(
    db_url: str, address: str, scratch: str, max_backoff_seconds: float = 30.0
) -> None:
    """Entry point of a dispatcher subprocess running the scripted job; logs to stderr."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    connection = Connection(address=address)
    dispatcher = make_dispatcher(
        make_session_factory(make_engine(db_url)),
        connection,
        scratch,
        scripted_job,
        max_backoff_seconds=max_backoff_seconds,
    )
    dispatcher.run(threading.Event())


def start_dispatcher_process(
    db_url: str, address: str, scratch: Path, log: Path | None = None, **kwargs: Any
) -> subprocess.Popen:
    """``run_dispatcher_process`` in a process of its own (its output in ``log``, if given)."""
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); "
        "from helpers import run_dispatcher_process; "
        f"run_dispatcher_process({db_url!r}, {address!r}, {str(scratch)!r}, **{kwargs!r})"
    )
    if log is None:
        return subprocess.Popen([sys.executable, "-c", code], env=ENV, start_new_session=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code],
            env=ENV,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(predicate: Callable[[], object], timeout: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_workers(connection: Connection, n: int) -> None:
    wait_for(lambda: len(connection.client.scheduler_info()["workers"]) >= n, what=f"{n} workers")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        args, env=ENV, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop_group(proc: subprocess.Popen) -> None:
    """Kill a process we started and its own children (the nanny's worker)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


class DaskProcesses:
    def __init__(self, n_workers: int) -> None:
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.scheduler = self.start_scheduler()
        self.workers = [self.start_worker(i) for i in range(n_workers)]

    def start_worker(self, i: int) -> subprocess.Popen:
        return spawn(
            DASK,
            "worker",
            self.address,
            "--nthreads",
            "1",
            "--resources",
            "GPU=1",
            "--no-dashboard",
            "--name",
            f"w{i}",
        )

    def start_scheduler(self) -> subprocess.Popen:
        port = self.address.rsplit(":", 1)[1]
        return spawn(DASK, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            stop_group(proc)


def sandbox_processes(worker_pid: int | None = None) -> list[psutil.Process]:
    """Live processes with the sandbox uids of a worker process (this one by default).

    Zombies are dead (no memory, no CPU); the host's init reaps them in its own time.
    """
    ours = uid_range(worker_pid)
    found = []
    for process in psutil.process_iter(["uids", "status"]):
        uids, status = process.info["uids"], process.info["status"]
        if uids is not None and uids.real in ours and status != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found
