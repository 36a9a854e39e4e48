"""Receiving a submission: every rule, then its row and files in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
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


def receive_submission(
    session: Session,
    event: Event,
    team: Team,
    user: User,
    name: str,
    deblender: bytes,
    extras: Sequence[tuple[str, bytes]],
    *,
    max_file_bytes: int,
    max_files: int,
    instructor: bool = False,
) -> Submission:
    """Check, then commit the QUEUED row with its files; raises :class:`SubmissionRefusedError`.

    Instructors may submit while the event is closed and are not rate limited.
    """
    check_event_open(event.state == EventState.OPEN, instructor)
    # Lock the team row (PostgreSQL) so that two clicks cannot both pass the rate rules.
    session.get(Team, team.id, with_for_update=True)
    existing = session.scalars(select(Submission.name).where(Submission.team_id == team.id))
    name = check_name(name, existing)
    files = check_files(deblender, extras, max_file_bytes, max_files)
    now = utcnow()
    if not instructor:
        check_rate(
            now,
            counted_submission_times(session, team.id),
            event.min_gap_seconds,
            event.max_per_day,
        )
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
