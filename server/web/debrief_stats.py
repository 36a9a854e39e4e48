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

from server.kit import ScoreInfo
from server.models import Submission, Team
from server.states import FAILED_STATES, SubmissionState
from server.web.ranking import Entry


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


def progressions(
    entries: Iterable[Entry], official: ScoreInfo
) -> dict[str, list[tuple[datetime, float]]]:
    """Per team, its best public official score so far at each submission that improved it."""
    by_time = sorted(entries, key=lambda e: (e.submitted_at, e.submission_id))
    lower = official.lower_is_better
    steps: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for entry in by_time:
        value = entry.public[official.name]
        if value is None:
            continue
        line = steps[entry.team]
        if not line or (value < line[-1][1] if lower else value > line[-1][1]):
            line.append((entry.submitted_at, value))
    return dict(steps)


@dataclass(frozen=True)
class ComparedBreakdown:
    """One of the kit's diagnostic breakdowns, set side by side for several submissions."""

    title: str
    bins: list[str]
    columns: list[str]  # "team / submission"
    values: list[list[float | None]]  # one row per bin, one value per column
    counts: list[int]


def compared_diagnostics(session: Session, submission_ids: list[int]) -> list[ComparedBreakdown]:
    """The diagnostics of ``submission_ids`` (in that order), grouped by breakdown title."""
    rows = session.execute(
        select(Submission.id, Team.name, Submission.name, Submission.diagnostics)
        .join(Team, Team.id == Submission.team_id)
        .where(Submission.id.in_(submission_ids))
    ).all()
    order = {sid: position for position, sid in enumerate(submission_ids)}
    rows = sorted((r for r in rows if r.diagnostics), key=lambda r: order[r.id])
    compared: dict[str, ComparedBreakdown] = {}
    for row in rows:
        column = f"{row[1]} / {row[2]}"
        for breakdown in row.diagnostics:
            title, bins = str(breakdown["title"]), [str(b) for b in breakdown["bins"]]
            found = compared.get(title)
            if found is None or found.bins != bins:
                if found is not None:
                    continue  # the kit changed its bins mid-event: compare like with like
                found = compared[title] = ComparedBreakdown(
                    title, bins, [], [[] for _ in bins], [int(c) for c in breakdown["counts"]]
                )
            found.columns.append(column)
            for values, value in zip(found.values, breakdown["values"], strict=True):
                values.append(None if value is None else float(value))
    return list(compared.values())
