"""Parallel uploads of one team cannot beat the minimum gap or the daily maximum.

Each upload runs in its own thread with its own database session, as gunicorn's threads and
processes do, and all start together; on SQLite (the default) and on PostgreSQL
(DEBLEND_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from server.db import Base, make_engine, make_session_factory
from server.models import Event, EventState, Submission, Team, TeamMember, User
from server.web.intake import receive_submission
from server.web.submission_rules import SubmissionRefusedError

POSTGRES_ENV = "DEBLEND_TEST_POSTGRES_URL"
PARALLEL_UPLOADS = 6
SOURCE = b"class Model:\n    def fit(self, X, y):\n        return self\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rate.sqlite'}"
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set in CI: the rate rules must be checked there")
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to test against")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield url


@pytest.fixture
def sessions(engine_url: str):  # noqa: ANN201
    engine = make_engine(engine_url)
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _team(sessions, tmp_path: Path, min_gap: int, max_per_day: int) -> int:  # noqa: ANN001
    with sessions() as session:
        event = Event(
            name="school",
            title="School",
            kit_dir=str(tmp_path / "kit"),
            public_data_dir=str(tmp_path / "public"),
            hidden_data_dir=str(tmp_path / "hidden"),
            state=EventState.OPEN,
            min_gap_seconds=min_gap,
            max_per_day=max_per_day,
        )
        user = User(email="ada@example.org", name="Ada")
        team = Team(event=event, name="Andromeda")
        session.add_all([event, user, team])
        session.flush()
        session.add(TeamMember(event_id=event.id, team_id=team.id, user_id=user.id))
        session.commit()
        return team.id


def _upload_together(sessions, team_id: int) -> list[str]:  # noqa: ANN001
    """Start PARALLEL_UPLOADS uploads at once; each returns "received" or its refusal."""
    start = threading.Barrier(PARALLEL_UPLOADS)
    outcomes: list[str] = []

    def upload(number: int) -> None:
        with sessions() as session:
            # What the upload view does first: read the team, its event and the user.
            team = session.get(Team, team_id)
            event, user = team.event, team.members[0].user
            start.wait()
            try:
                receive_submission(
                    session,
                    event,
                    team,
                    user,
                    f"attempt_{number}",
                    [("model.py", SOURCE)],
                    element_files=["model.py"],
                    max_file_bytes=4096,
                    max_files=2,
                )
            except SubmissionRefusedError as refusal:
                outcomes.append(str(refusal))
            else:
                outcomes.append("received")

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(PARALLEL_UPLOADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_parallel_uploads_within_the_gap_accept_one(sessions, tmp_path):
    team_id = _team(sessions, tmp_path, min_gap=60, max_per_day=100)
    outcomes = _upload_together(sessions, team_id)
    assert outcomes.count("received") == 1, outcomes
    refusals = [o for o in outcomes if o != "received"]
    assert all("submissions must be at least 60 s apart" in o for o in refusals), refusals
    with sessions() as session:
        assert len(session.scalars(select(Submission)).all()) == 1
        assert session.get(Team, team_id).last_submission_at is not None


def test_parallel_uploads_stop_at_the_daily_maximum(sessions, tmp_path):
    team_id = _team(sessions, tmp_path, min_gap=0, max_per_day=2)
    outcomes = _upload_together(sessions, team_id)
    assert outcomes.count("received") == 2, outcomes
    refusals = [o for o in outcomes if o != "received"]
    assert all("the limit is 2" in o for o in refusals), refusals
    with sessions() as session:
        assert len(session.scalars(select(Submission)).all()) == 2
