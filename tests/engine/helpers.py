"""Helpers shared by the engine tests: a one-event database, scripted submissions, a dispatcher
on its own thread, a real ``dask scheduler`` with ``dask worker`` processes, the processes left
by sandboxes, and polling with a deadline.
"""

from __future__ import annotations

import json
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
from server.engine.dispatcher import Dispatcher
from server.engine.sandbox import uid_range
from server.models import Event, Submission, SubmissionFile, Team

DASK = str(Path(sys.executable).with_name("dask"))
ENV = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}


def create_event_db(url: str, **event_fields: Any) -> None:
    """A fresh database holding event 1 ("ev") and its teams 1 ("a") and 2 ("b")."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        fields = {"name": "ev", "title": "Ev", "public_data_dir": "/p", "hidden_data_dir": "/h"}
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


def wait_for(predicate: Callable[[], object], timeout: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


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
