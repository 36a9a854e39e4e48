"""Who may see what: the lookups every blueprint uses instead of raw queries in views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Event, EventState, Submission, Team, TeamMember
from server.web.database import get_db

F = TypeVar("F", bound=Callable[..., Any])


def is_instructor() -> bool:
    """True when the logged-in user is an instructor."""
    return bool(current_user.is_authenticated and current_user.is_instructor)


def instructor_required(view: F) -> F:
    """Log in first, then 403 unless the user is an instructor."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_instructor():
            abort(403)
        return view(*args, **kwargs)

    return login_required(wrapped)  # type: ignore[return-value]


def get_event_or_404(event_name: str) -> Event:
    """The event named ``event_name``; draft events exist for instructors only."""
    event = get_db().scalars(select(Event).where(Event.name == event_name)).one_or_none()
    if event is None or (event.state == EventState.DRAFT and not is_instructor()):
        abort(404)
    return event


def team_of(session: Session, event_id: int, user_id: int) -> Team | None:
    """The user's team in the event, or None (a user is in at most one team per event)."""
    return session.scalars(
        select(Team)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.event_id == event_id, TeamMember.user_id == user_id)
    ).one_or_none()


def current_team(event: Event) -> Team | None:
    """The logged-in user's team in ``event``, or None (anonymous users have none)."""
    if not current_user.is_authenticated:
        return None
    return team_of(get_db(), event.id, current_user.id)


def get_submission_or_404(submission_id: int, check_owner: bool = True) -> Submission:
    """A submission; with ``check_owner`` only its team's members (and instructors) see it.

    Others get 404, not 403, so that submission ids of other teams are not confirmed.
    """
    submission = get_db().get(Submission, submission_id)
    if submission is None:
        abort(404)
    if check_owner and not is_instructor():
        if not current_user.is_authenticated:
            abort(404)
        team = team_of(get_db(), submission.event_id, current_user.id)
        if team is None or team.id != submission.team_id:
            abort(404)
        if submission.event.state == EventState.DRAFT:
            abort(404)
    return submission


def may_see_private_scores(event: Event) -> bool:
    """Private scores are revealed at the close; instructors see them all along."""
    return event.state == EventState.CLOSED or is_instructor()
