"""Data builders for the leaderboard, debrief and admin tests (the app, client and ``db``
fixtures come from conftest.py): scored submissions with every metric, at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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

T0 = datetime(2025, 6, 9, 9, 0, tzinfo=UTC)


def add_event(db: Session, name: str = "blend", state: EventState = EventState.OPEN) -> Event:
    event = Event(
        name=name, title=f"Event {name}", state=state, public_data_dir="/p", hidden_data_dir="/h"
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
    code: str = "class Deblender:\n    pass\n",
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
    submission.files.append(SubmissionFile(name="deblender.py", content=code.encode(), sha256=""))
    for split, value in ((ScoreSplit.PUBLIC, public), (ScoreSplit.PRIVATE, private)):
        if value is None:
            continue
        for metric, metric_value in (
            ("central_iou", value),
            ("companion_iou", value / 2),
            ("overlap_iou", value / 4),
            ("flux_error", 1 - value),
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
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
