"""Receiving a submission: every rule, then its row and files in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.models import Event, EventState, Submission, SubmissionFile, Team, User, utcnow
from server.states import SubmissionState
from server.web.submission_rules import (
    SubmissionRefusedError,
    check_event_open,
    check_files,
    check_name,
    check_rate,
)


def counted_submission_times(session: Session, team_id: int) -> list[datetime]:
    """When the team submitted, platform faults excluded (they do not count against limits)."""
    return list(
        session.scalars(
            select(Submission.created_at).where(
                Submission.team_id == team_id, Submission.platform_fault.is_(False)
            )
        )
    )


def lock_team(session: Session, team_id: int) -> None:
    """Start the intake's transaction by writing the team's row, so a team's uploads queue up.

    A second upload of the team then waits at this statement until the first one's transaction
    ends, and counts the team's submissions afterwards: a row lock on PostgreSQL, the database's
    write lock on SQLite (whose driver begins a transaction at the first write, so nothing read
    before this can be stale). Reading first and locking after would let parallel uploads all
    pass the rate rules; ``SELECT ... FOR UPDATE`` is ignored by SQLite.
    """
    session.execute(
        update(Team).where(Team.id == team_id).values(last_submission_at=Team.last_submission_at)
    )


def receive_submission(
    session: Session,
    event: Event,
    team: Team,
    user: User,
    name: str,
    uploads: Sequence[tuple[str, bytes]],
    *,
    element_files: Sequence[str],
    max_file_bytes: int,
    max_files: int,
    instructor: bool = False,
) -> Submission:
    """Check, then commit the QUEUED row with its files; raises :class:`SubmissionRefusedError`.

    ``uploads`` holds the kit's element files (``element_files``) and any extra files.
    Instructors may submit while the event is closed and are not rate limited.
    """
    check_event_open(event.state == EventState.OPEN, instructor)
    files = check_files(uploads, element_files, max_file_bytes, max_files)
    lock_team(session, team.id)
    try:
        existing = session.scalars(select(Submission.name).where(Submission.team_id == team.id))
        name = check_name(name, existing)
        now = utcnow()  # read once the lock is held: the other uploads are committed by then
        if not instructor:
            check_rate(
                now,
                counted_submission_times(session, team.id),
                event.min_gap_seconds,
                event.max_per_day,
            )
    except SubmissionRefusedError:
        session.rollback()  # releases the lock
        raise
    session.execute(update(Team).where(Team.id == team.id).values(last_submission_at=now))
    submission = Submission(
        event_id=event.id,
        team_id=team.id,
        user_id=user.id,
        name=name,
        state=SubmissionState.QUEUED,
        created_at=now,
        queued_at=now,
        files=[
            SubmissionFile(
                name=file_name, content=content, sha256=hashlib.sha256(content).hexdigest()
            )
            for file_name, content in files.items()
        ],
    )
    session.add(submission)
    try:
        session.commit()
    except IntegrityError:  # the same name sent twice at once: the unique constraint decides
        session.rollback()
        raise SubmissionRefusedError(
            f"Your team already has a submission named {name!r}: choose another name."
        ) from None
    return submission
