"""Fair queue order: least-charged team first, each team's own submissions in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from server.db import Base, make_engine
from server.engine.scheduling import next_submissions, queue_positions
from server.models import Event, Submission, Team
from server.states import SubmissionState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        event = Event(id=1, name="e", title="E", kit_dir="/k", public_data_dir="/p")
        event.hidden_data_dir = "/h"
        session.add(event)
        for team_id in (1, 2, 3):
            session.add(Team(id=team_id, event_id=1, name=f"t{team_id}"))
        session.flush()
        yield session
    engine.dispose()


def add(session, sid, team, minute, state=SubmissionState.QUEUED, compute=0.0):
    session.add(
        Submission(
            id=sid,
            event_id=1,
            team_id=team,
            name=f"s{sid}",
            state=state,
            queued_at=T0 + timedelta(minutes=minute),
            compute_seconds=compute,
        )
    )
    session.flush()


def test_next_submissions_least_charged_team_before_global_oldest(session):
    # Team 1 used 100 s and holds the oldest submission; team 2 used nothing.
    add(session, 1, team=1, minute=0, state=SubmissionState.SCORED, compute=100.0)
    add(session, 2, team=1, minute=1)
    add(session, 3, team=2, minute=5)
    assert [s.id for s in next_submissions(session, 1, limit=1)] == [3]


def test_next_submissions_team_keeps_its_own_order(session):
    add(session, 1, team=1, minute=3)
    add(session, 2, team=1, minute=1)
    add(session, 3, team=1, minute=2)
    assert [s.id for s in next_submissions(session, 1, limit=3)] == [2, 3, 1]


def test_next_submissions_equal_charge_goes_round_robin_by_age(session):
    # No compute yet: each pick charges 1 s, so teams alternate, the older head first.
    add(session, 1, team=1, minute=0)
    add(session, 2, team=1, minute=1)
    add(session, 3, team=1, minute=2)
    add(session, 4, team=2, minute=3)
    add(session, 5, team=2, minute=4)
    assert [s.id for s in next_submissions(session, 1, limit=5)] == [1, 4, 2, 5, 3]


def test_next_submissions_running_job_counts_against_its_team(session):
    # Team 1 already holds a worker, so team 2's younger submission goes first.
    add(session, 1, team=1, minute=0, state=SubmissionState.TRAINING)
    add(session, 2, team=1, minute=1)
    add(session, 3, team=2, minute=2)
    assert [s.id for s in next_submissions(session, 1, limit=2)] == [3, 2]


def test_next_submissions_limit_zero_and_empty_queue(session):
    add(session, 1, team=1, minute=0, state=SubmissionState.SCORED, compute=5.0)
    assert next_submissions(session, 1, limit=3) == []
    add(session, 2, team=1, minute=1)
    assert next_submissions(session, 1, limit=0) == []


def test_queue_positions_follow_the_fair_order(session):
    # Charged: team 1 = 30 s, team 2 = 10 s, team 3 = 0 s; mean job = 20 s.
    add(session, 1, team=1, minute=0, state=SubmissionState.SCORED, compute=30.0)
    add(session, 2, team=2, minute=0, state=SubmissionState.FAILED, compute=10.0)
    add(session, 3, team=1, minute=1)
    add(session, 4, team=2, minute=2, state=SubmissionState.WAITING)
    add(session, 5, team=3, minute=3)
    add(session, 6, team=3, minute=4)
    # Picks: t3 (0->20), t2 (10->30), t3 (20->40), t1 (30, older head than t2's none left).
    assert queue_positions(session, 1) == {5: 1, 4: 2, 6: 3, 3: 4}


def test_queue_positions_ignore_running_and_finished(session):
    add(session, 1, team=1, minute=0, state=SubmissionState.CHECKING)
    add(session, 2, team=1, minute=1, state=SubmissionState.CANCELLED)
    add(session, 3, team=2, minute=2)
    assert queue_positions(session, 1) == {3: 1}
