"""Data builders for the leaderboard, debrief and admin tests (the app, client and ``db``
fixtures come from conftest.py): scored submissions with every score of the public-style test
kit, at fixed times."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from server.models import (
    Event,
    EventState,
    ScoreSplit,
    Submission,
    SubmissionFile,
    SubmissionScore,
    Team,
    TeamMember,
    User,
)
from server.states import SubmissionState
from tests.kits.public_kit import ELEMENT_FILE, write_public_kit

T0 = datetime(2025, 6, 9, 9, 0, tzinfo=UTC)


@functools.cache
def shared_kit_dir() -> Path:
    """One public-style kit (acc official, then error, nll, f1_70) for every board test."""
    root = Path(tempfile.mkdtemp(prefix="board-kit-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    write_public_kit(root / "kit", root / "hidden")
    return root / "kit"


def add_event(db: Session, name: str = "blend", state: EventState = EventState.OPEN) -> Event:
    kit = shared_kit_dir()
    event = Event(
        name=name,
        title=f"Event {name}",
        state=state,
        kit_dir=str(kit),
        public_data_dir=str(kit),
        hidden_data_dir=str(kit.parent / "hidden"),
    )
    db.add(event)
    db.commit()
    return event


def add_team(db: Session, event: Event, name: str) -> Team:
    team = Team(event=event, name=name)
    db.add(team)
    db.commit()
    return team


def add_user(db: Session, email: str, team: Team | None = None, instructor: bool = False) -> User:
    user = User(email=email, name=email.split("@")[0], is_instructor=instructor)
    db.add(user)
    if team is not None:
        db.add(TeamMember(event_id=team.event_id, team=team, user=user))
    db.commit()
    return user


def add_submission(
    db: Session,
    team: Team,
    name: str,
    public: float | None = None,
    private: float | None = None,
    minute: int = 0,
    state: SubmissionState = SubmissionState.SCORED,
    error: str | None = None,
    code: str = "def get_estimator():\n    pass\n",
) -> Submission:
    """A submission made ``minute`` minutes after T0; scores on every metric when given."""
    submitted = T0 + timedelta(minutes=minute)
    submission = Submission(
        event_id=team.event_id,
        team=team,
        name=name,
        state=state,
        created_at=submitted,
        queued_at=submitted,
        finished_at=submitted + timedelta(minutes=5) if state.is_final else None,
        train_seconds=125.0,
        error_summary=error,
    )
    submission.files.append(SubmissionFile(name=ELEMENT_FILE, content=code.encode(), sha256=""))
    for split, value in ((ScoreSplit.PUBLIC, public), (ScoreSplit.PRIVATE, private)):
        if value is None:
            continue
        for metric, metric_value in (
            ("acc", value),
            ("error", 1 - value),
            ("nll", value / 2),
            ("f1_70", value / 4),
        ):
            submission.scores.append(
                SubmissionScore(split=split, fold=None, metric=metric, value=metric_value)
            )
    db.add(submission)
    db.commit()
    return submission


def login(client: FlaskClient, user: User) -> None:
    """Log in through Flask-Login's session keys (no password hashing in every test)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
