"""The debrief's summaries of an event: plain functions of a session or of entries, no Flask.

Activity and failure counts come from every submission, whatever its state; progressions from
the scored entries that :func:`server.web.ranking.load_entries` returns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from server.models import Submission, Team
from server.states import SubmissionState
from server.web.ranking import METRICS, OFFICIAL_METRIC, Entry

FAILED_STATES = (
    SubmissionState.FAILED,
    SubmissionState.TIMED_OUT,
    SubmissionState.OUT_OF_MEMORY,
)


@dataclass(frozen=True)
class TeamActivity:
    team: str
    submissions: int
    scored: int
    failed: int  # failed, timed out or out of memory


def team_activity(session: Session, event_id: int) -> list[TeamActivity]:
    """Submissions, scored and failures per team (teams without submissions included)."""
    counted = func.count(Submission.id)
    stmt = (
        select(
            Team.name,
            counted,
            func.count(case((Submission.state == SubmissionState.SCORED, 1))),
            func.count(case((Submission.state.in_(FAILED_STATES), 1))),
        )
        .outerjoin(Submission, Submission.team_id == Team.id)
        .where(Team.event_id == event_id)
        .group_by(Team.id)
        .order_by(counted.desc(), Team.name)
    )
    return [TeamActivity(*row) for row in session.execute(stmt)]


def failure_reasons(session: Session, event_id: int) -> list[tuple[str, int]]:
    """How often each ``error_summary`` ended a submission, most frequent first."""
    reason = func.coalesce(Submission.error_summary, "(no reason recorded)")
    counted = func.count(Submission.id)
    stmt = (
        select(reason, counted)
        .where(Submission.event_id == event_id, Submission.state.in_(FAILED_STATES))
        .group_by(reason)
        .order_by(counted.desc(), reason)
    )
    return [(text, count) for text, count in session.execute(stmt)]


def progressions(entries: Iterable[Entry]) -> dict[str, list[tuple[datetime, float]]]:
    """Per team, its best public official score so far at each submission that improved it."""
    by_time = sorted(entries, key=lambda e: (e.submitted_at, e.submission_id))
    lower = METRICS[OFFICIAL_METRIC]
    steps: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for entry in by_time:
        value = entry.public[OFFICIAL_METRIC]
        if value is None:
            continue
        line = steps[entry.team]
        if not line or (value < line[-1][1] if lower else value > line[-1][1]):
            line.append((entry.submitted_at, value))
    return dict(steps)
