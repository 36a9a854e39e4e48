"""Faults, each caused for real: killed worker, dispatcher and scheduler processes, a locked
database and a hung job. None may lose a submission or run it twice at once.

The cluster is a real ``dask scheduler`` and ``dask worker --resources GPU=1`` subprocesses on
loopback (the GPU-server layout, on CPU workers). Jobs are scripted by a JSON deblender.py and
leave one marker line per run in the scratch folder, so runs can be counted (helpers.py). The
PostgreSQL outage has its own module, test_database_outage.py.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import psutil
import pytest
from helpers import (
    DaskProcesses,
    create_event_db,
    get,
    make_dispatcher,
    running,
    runs,
    scripted_job,
    start_dispatcher_process,
    stop_group,
    submit,
    wait_for,
    wait_workers,
)
from sqlalchemy import create_engine, select

from server.db import make_engine, make_session_factory
from server.engine.cluster import Connection
from server.models import Event, Submission
from server.states import SubmissionState

S = SubmissionState


@pytest.fixture(scope="module")
def dask_processes():
    procs = DaskProcesses(n_workers=2)
    yield procs
    procs.close()


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    create_event_db(url, use_gpu=True, max_retries=1, timeout_seconds=600)
    return url


@pytest.fixture
def factory(db_url):
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def started_pid(scratch: Path, sid: int, attempt: int, kind: str) -> int | None:
    lines = [line for line in runs(scratch, sid, attempt, kind) if line.startswith("start")]
    return int(lines[-1].split()[1]) if lines else None


def dispatcher_thread(factory, connection, scratch, **kwargs):
    dispatcher = make_dispatcher(factory, connection, scratch, scripted_job, **kwargs)
    stop, thread = running(dispatcher)
    return dispatcher, stop, thread


def test_worker_killed_mid_job_reruns_without_charge(dask_processes, factory, tmp_path):
    sid = submit(factory, {"sleep-quick_check-0": 60})
    connection = Connection(address=dask_processes.address)
    wait_workers(connection, 2)
    dispatcher, stop, thread = dispatcher_thread(factory, connection, tmp_path)
    try:
        wait_for(lambda: started_pid(tmp_path, sid, 0, "quick_check"), what="job started")
        os.kill(started_pid(tmp_path, sid, 0, "quick_check"), signal.SIGKILL)  # the worker
        wait_for(lambda: get(factory, sid).state is S.SCORED, what="re-run scored")
    finally:
        stop.set()
        thread.join(10)
        connection.close()
    sub = get(factory, sid)
    # Charged for the second quick check and the full job only (1 s each), not the lost run.
    assert (sub.attempts, sub.compute_seconds, sub.platform_fault) == (1, 2.0, False)
    assert runs(tmp_path, sid, 0, "quick_check") == [runs(tmp_path, sid, 0, "quick_check")[0]]


def test_worker_killed_past_max_retries_fails_as_platform_fault(dask_processes, factory, tmp_path):
    sid = submit(factory, {"sleep-quick_check-0": 60, "sleep-quick_check-1": 60})
    connection = Connection(address=dask_processes.address)
    wait_workers(connection, 2)
    dispatcher, stop, thread = dispatcher_thread(factory, connection, tmp_path)
    try:
        for attempt in (0, 1):  # max_retries = 1: the second death is one too many
            wait_for(lambda a=attempt: started_pid(tmp_path, sid, a, "quick_check"), what="start")
            wait_workers(connection, 2)
            os.kill(started_pid(tmp_path, sid, attempt, "quick_check"), signal.SIGKILL)
        wait_for(lambda: get(factory, sid).state is S.FAILED, what="platform failure")
    finally:
        stop.set()
        thread.join(10)
        connection.close()
    sub = get(factory, sid)
    assert sub.platform_fault and sub.compute_seconds == 0.0
    assert sub.error_summary == "the platform failed to run this submission"


def test_dispatcher_killed_restart_adopts_collects_and_requeues(
    dask_processes, db_url, factory, tmp_path
):
    long_id = submit(factory, {"sleep-quick_check-0": 8})
    short_id = submit(factory, {"sleep-quick_check-0": 1})
    connection = Connection(address=dask_processes.address)
    wait_workers(connection, 2)
    proc = start_dispatcher_process(db_url, dask_processes.address, tmp_path)
    try:
        # Killed once both jobs run on the workers, as a dispatcher dies mid-event: a kill
        # between a job's submission and its publication, a few milliseconds, would orphan a
        # job that no dispatcher can find again.
        wait_for(
            lambda: all(
                get(factory, sid).state is S.CHECKING and runs(tmp_path, sid, 0, "quick_check")
                for sid in (long_id, short_id)
            ),
            what="both checking on the workers",
        )
        proc.kill()  # SIGKILL: no clean-up at all
        proc.wait(10)
        # The short job finishes while no dispatcher runs; its result waits on the scheduler.
        wait_for(lambda: "done" in runs(tmp_path, short_id, 0, "quick_check"), what="short done")
        with factory() as session:  # a job the cluster never heard of
            lost = session.get(Submission, submit(factory, {}))
            lost.state, lost.job_key = S.CHECKING, f"deblend-{lost.id}-0-quick_check"
            session.commit()
        dispatcher, stop, thread = dispatcher_thread(factory, connection, tmp_path)
        try:
            wait_for(
                lambda: all(
                    get(factory, i).state is S.SCORED for i in (long_id, short_id, lost.id)
                ),
                what="all scored",
            )
        finally:
            stop.set()
            thread.join(10)
    finally:
        stop_group(proc)
        connection.close()
    for sid in (long_id, short_id):  # adopted or collected: each check ran exactly once
        assert runs(tmp_path, sid, 0, "quick_check") == [
            runs(tmp_path, sid, 0, "quick_check")[0],
            "done",
        ]
        assert get(factory, sid).attempts == 0


def test_database_locked_dispatcher_backs_off_and_loses_nothing(dask_processes, db_url, tmp_path):
    # A short busy timeout so the lock surfaces as OperationalError instead of a long wait.
    engine = create_engine(db_url, connect_args={"timeout": 0.2})
    factory = make_session_factory(engine)
    ids = [submit(factory, {"sleep-quick_check-0": 1}) for _ in range(3)]
    connection = Connection(address=dask_processes.address)
    wait_workers(connection, 2)
    dispatcher, stop, thread = dispatcher_thread(
        factory, connection, tmp_path, max_backoff_seconds=1.0
    )
    locker = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=30)
    try:
        wait_for(lambda: get(factory, ids[0]).state is S.CHECKING, what="first check")
        locker.execute("BEGIN EXCLUSIVE")
        time.sleep(4)  # jobs finish while the database refuses every write
        locker.rollback()
        wait_for(lambda: all(get(factory, i).state is S.SCORED for i in ids), what="all scored")
    finally:
        locker.close()
        stop.set()
        thread.join(10)
        connection.close()
        engine.dispose()
    assert dispatcher.errors > 0
    assert [get(factory, i).compute_seconds for i in ids] == [2.0, 2.0, 2.0]


def test_hung_job_timed_out_by_watchdog_and_worker_restarted(dask_processes, factory, tmp_path):
    with factory() as session:
        session.scalars(select(Event)).one().timeout_seconds = 2
        session.commit()
    hung = submit(factory, {"sleep-quick_check-0": 3600})
    connection = Connection(address=dask_processes.address)
    wait_workers(connection, 2)
    dispatcher, stop, thread = dispatcher_thread(
        factory, connection, tmp_path, watchdog_margin_seconds=1.0
    )
    try:
        wait_for(lambda: get(factory, hung).state is S.TIMED_OUT, what="watchdog")
        pid = started_pid(tmp_path, hung, 0, "quick_check")
        wait_for(lambda: not psutil.pid_exists(pid), what="hung worker killed")
        after = submit(factory, {})
        wait_for(lambda: get(factory, after).state is S.SCORED, what="next one scored")
    finally:
        stop.set()
        thread.join(10)
        connection.close()
    sub = get(factory, hung)
    assert "watchdog" in sub.error_summary and sub.compute_seconds >= 3.0


def test_scheduler_killed_and_restarted_requeues_lost_job(factory, tmp_path):
    procs = DaskProcesses(n_workers=1)
    connection = Connection(address=procs.address)
    try:
        wait_workers(connection, 1)
        sid = submit(factory, {"sleep-quick_check-0": 5})
        dispatcher, stop, thread = dispatcher_thread(factory, connection, tmp_path)
        try:
            wait_for(lambda: started_pid(tmp_path, sid, 0, "quick_check"), what="job started")
            stop_group(procs.scheduler)
            procs.scheduler = procs.start_scheduler()
            # A worker exits when its scheduler goes; its service manager starts it again.
            procs.workers[0].wait(60)
            procs.workers[0] = procs.start_worker(0)
            wait_for(lambda: get(factory, sid).state is S.SCORED, what="scored")
        finally:
            stop.set()
            thread.join(10)
    finally:
        connection.close()
        procs.close()
    sub = get(factory, sid)
    # Lost with the scheduler: run again under the same attempt, not counted as a retry.
    assert sub.attempts == 0 and sub.compute_seconds == 2.0
    # Two runs of the check, one after the other (never at once): the lost one and the re-run.
    lines = runs(tmp_path, sid, 0, "quick_check")
    assert [line.split()[0] for line in lines] == ["start", "done", "start", "done"]
