"""The dispatcher on a real LocalCluster, driven by a scripted job function.

The job function reads a JSON script from the submission's deblender.py (sleep, log lines,
outcome) so each test says what its "student code" does; it is shipped to the worker processes
by value (cloudpickle), so they need not import this module.
"""

from __future__ import annotations

import json
import time

import helpers
import pytest
from helpers import create_event_db, running, submit, wait_for
from sqlalchemy import func, select

from server.db import make_engine, make_session_factory
from server.engine.cluster import Connection, local_cluster
from server.engine.job import JobOutcome, JobResult, ScoreRow
from server.engine.scheduling import queue_positions
from server.engine.tasks import LogForwarder
from server.models import (
    DispatcherHeartbeat,
    Submission,
    SubmissionScore,
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
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    create_event_db(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def states(factory) -> dict[int, SubmissionState]:
    with factory() as session:
        return dict(session.execute(select(Submission.id, Submission.state)).all())


def make_dispatcher(factory, connection, tmp_path, **kwargs):
    return helpers.make_dispatcher(factory, connection, tmp_path, scripted_job, **kwargs)


def test_dispatcher_scores_submissions_and_records_cluster(cluster, factory, tmp_path):
    ids = [
        submit(factory, team_id=1, script={"sleep": 0.1}),
        submit(factory, team_id=2, script={"outcome": "failed"}),
    ]
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
    sid = submit(factory, team_id=1, script={"log": ["epoch 1/3 loss 0.9"], "sleep": 4.0})
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
    sid = submit(factory, team_id=1, script={"sleep": 30.0})
    after = submit(factory, team_id=2, script={})
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
    sid = submit(factory, team_id=1, script={"outcome": "failed"})
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
    a_ids = [submit(factory, team_id=1, script={"sleep": 1.0}) for _ in range(4)]
    b_id = submit(factory, team_id=2, script={"sleep": 1.0})
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
