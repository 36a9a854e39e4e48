"""The dispatcher on a real LocalCluster, driven by a scripted job function.

The job function reads a JSON script from the submission's deblender.py (sleep, log lines,
outcome) so each test says what its "student code" does; it is shipped to the worker processes
by value (cloudpickle), so they need not import this module.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select

from server.db import Base, make_engine, make_session_factory
from server.engine.cluster import Connection, local_cluster
from server.engine.dispatcher import Dispatcher
from server.engine.job import JobOutcome, JobResult, ScoreRow
from server.engine.scheduling import queue_positions
from server.engine.tasks import LogForwarder
from server.models import (
    DispatcherHeartbeat,
    Event,
    Submission,
    SubmissionFile,
    SubmissionScore,
    Team,
    WorkerStatus,
)
from server.states import SubmissionState

S = SubmissionState


def _make_scripted_job():
    # A local function: Dask's pickle falls back to cloudpickle, which ships it by value,
    # so the scheduler and worker processes need not import this test module.
    def scripted_job(spec, scratch_root, topic):
        """Stand-in for worker.run_job: does what the submission's JSON script says."""
        import distributed

        script = json.loads(spec.files["deblender.py"])
        forward = LogForwarder(topic, spec, distributed.get_worker().log_event)
        for line in script.get("log", []):
            forward(line + "\n")
            forward.flush()
        time.sleep(script.get("sleep", 0.0))
        outcome = JobOutcome(script.get("outcome", "succeeded"))
        return JobResult(
            submission_id=spec.submission_id,
            attempt=spec.attempt,
            kind=spec.kind,
            outcome=outcome,
            error_summary=None if outcome is JobOutcome.SUCCEEDED else "ValueError: bad shape",
            log_tail="".join(line + "\n" for line in script.get("log", [])),
            scores=[ScoreRow("public", None, "iou", 0.5)] if spec.kind == "full" else [],
            wall_seconds=1.5,
            worker_address=distributed.get_worker().address,
        )

    return scripted_job


scripted_job = _make_scripted_job()


@pytest.fixture(scope="module")
def cluster():
    cluster = local_cluster(2, gpu=True)
    yield cluster
    cluster.close()


@pytest.fixture
def factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        session.add(Event(name="ev", title="Ev", public_data_dir="/p", hidden_data_dir="/h"))
        session.add_all([Team(event_id=1, name="a"), Team(event_id=1, name="b")])
        session.commit()
    yield factory
    engine.dispose()


def submit(factory, team_id, script, name=None) -> int:
    with factory() as session:
        count = session.scalar(select(func.count()).select_from(Submission))
        sub = Submission(event_id=1, team_id=team_id, name=name or f"s{count}")
        sub.files.append(
            SubmissionFile(name="deblender.py", content=json.dumps(script).encode(), sha256="0")
        )
        session.add(sub)
        session.commit()
        return sub.id


def states(factory) -> dict[int, SubmissionState]:
    with factory() as session:
        return dict(session.execute(select(Submission.id, Submission.state)).all())


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def running(dispatcher):
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def make_dispatcher(factory, connection, tmp_path, **kwargs):
    return Dispatcher(
        factory,
        "ev",
        connection,
        scratch_root=str(tmp_path),
        job_function=scripted_job,
        poll_seconds=0.1,
        **kwargs,
    )


def test_dispatcher_scores_submissions_and_records_cluster(cluster, factory, tmp_path):
    ids = [submit(factory, 1, {"sleep": 0.1}), submit(factory, 2, {"outcome": "failed"})]
    dispatcher = make_dispatcher(factory, Connection(cluster=cluster), tmp_path)
    stop, thread = running(dispatcher)
    try:
        wait_for(lambda: all(states(factory)[i].is_final for i in ids), what="both final")
    finally:
        stop.set()
        thread.join(10)
    with factory() as session:
        scored, failed = session.get(Submission, ids[0]), session.get(Submission, ids[1])
        assert scored.state is S.SCORED and failed.state is S.FAILED
        assert scored.score("public", "iou") == 0.5
        # Quick check then full job: two jobs charged 1.5 s each; the failure only one.
        assert scored.compute_seconds == 3.0 and failed.compute_seconds == 1.5
        assert failed.error_summary == "ValueError: bad shape"
        assert scored.job_key is None and scored.finished_at is not None
        assert session.scalar(select(func.count()).select_from(WorkerStatus)) == 2
        assert session.scalar(select(DispatcherHeartbeat.event_id)) == 1
    assert dispatcher.flights == {}


def test_dispatcher_streams_log_tail_while_running(cluster, factory, tmp_path):
    sid = submit(factory, 1, {"log": ["epoch 1/3 loss 0.9"], "sleep": 4.0})
    dispatcher = make_dispatcher(factory, Connection(cluster=cluster), tmp_path)
    stop, thread = running(dispatcher)
    try:

        def tail_seen():
            with factory() as session:
                sub = session.get(Submission, sid)
                return sub.state in (S.CHECKING, S.TRAINING) and "epoch 1/3" in (
                    sub.log_tail or ""
                )

        wait_for(tail_seen, what="log tail of a running job")
        wait_for(lambda: states(factory)[sid] is S.SCORED, what="scored")
    finally:
        stop.set()
        thread.join(10)


def test_dispatcher_cancels_submission_cancelled_by_instructor(cluster, factory, tmp_path):
    sid = submit(factory, 1, {"sleep": 30.0})
    after = submit(factory, 2, {})
    dispatcher = make_dispatcher(factory, Connection(cluster=cluster), tmp_path)
    stop, thread = running(dispatcher)
    try:
        wait_for(lambda: states(factory)[sid] is S.CHECKING, what="check started")
        with factory() as session:
            session.get(Submission, sid).set_state(S.CANCELLED)
            session.commit()
        wait_for(lambda: sid not in dispatcher.flights, what="future dropped")
        wait_for(lambda: states(factory)[after] is S.SCORED, what="next submission scored")
    finally:
        stop.set()
        thread.join(10)
    assert states(factory)[sid] is S.CANCELLED


def test_dispatcher_reruns_requeued_submission(cluster, factory, tmp_path):
    sid = submit(factory, 1, {"outcome": "failed"})
    dispatcher = make_dispatcher(factory, Connection(cluster=cluster), tmp_path)
    stop, thread = running(dispatcher)
    try:
        wait_for(lambda: states(factory)[sid] is S.FAILED, what="failed")
        with factory() as session:
            sub = session.get(Submission, sid)
            sub.files[0].content = json.dumps({}).encode()  # fixed by an instructor
            sub.set_state(S.QUEUED)
            session.commit()
        wait_for(lambda: states(factory)[sid] is S.SCORED, what="re-run scored")
    finally:
        stop.set()
        thread.join(10)
    with factory() as session:
        sub = session.get(Submission, sid)
        assert sub.error_summary is None and sub.compute_seconds == 1.5 + 3.0


def test_dispatcher_fills_only_free_slots_in_fair_order(cluster, factory, tmp_path):
    # Team a queues 4 long jobs first; team b's later one must not wait behind all of them.
    a_ids = [submit(factory, 1, {"sleep": 1.0}) for _ in range(4)]
    b_id = submit(factory, 2, {"sleep": 1.0})
    with factory() as session:
        assert queue_positions(session, 1)[b_id] == 2
    # An earlier test may have restarted a worker: start from two idle ones.
    wait_for(lambda: len(cluster.scheduler_info["workers"]) == 2, what="two workers")
    dispatcher = make_dispatcher(factory, Connection(cluster=cluster), tmp_path)
    dispatcher.run_pass()
    now = states(factory)
    # Two workers, two slots: a's oldest and b's only one, nothing else launched.
    assert {i for i, s in now.items() if s is S.CHECKING} == {a_ids[0], b_id}
    assert len(dispatcher.flights) == 2
    stop, thread = running(dispatcher)
    try:
        wait_for(lambda: all(s is S.SCORED for s in states(factory).values()), what="all scored")
    finally:
        stop.set()
        thread.join(10)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(SubmissionScore)) == 5
