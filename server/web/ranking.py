"""Leaderboard queries and ranking: plain functions of a session, no Flask.

A whole board costs one query (scores pivoted with conditional aggregation); whether it changed
costs one tiny aggregate, the change token, so pollers that find nothing new stay cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from server.kit import ScoreInfo
from server.models import Event, ScoreSplit, Submission, SubmissionScore, Team
from server.states import SubmissionState

Scores = Sequence[ScoreInfo]  # the kit's score types, the official one first


@dataclass(frozen=True)
class Entry:
    """One scored submission with its public and private test scores."""

    submission_id: int
    team_id: int
    team: str
    name: str
    submitted_at: datetime
    finished_at: datetime | None
    train_seconds: float | None
    public: dict[str, float | None]
    private: dict[str, float | None]
    # Standard errors of the scores above, when the engine could compute them.
    public_error: dict[str, float | None]
    private_error: dict[str, float | None]


@dataclass(frozen=True)
class Ranked:
    """A board line; ``public_rank`` and ``move`` only on the private board."""

    rank: int | None
    entry: Entry
    public_rank: int | None = None
    move: int | None = None  # public rank - private rank: positive means it climbed


def event_with_token(session: Session, name: str) -> tuple[Event, str] | None:
    """The event called ``name`` and its change token, in one query (None if no such event).

    The token moves whenever a submission becomes scored, stops being scored (re-queue) or is
    re-scored: count, sum of ids and latest finish time of the scored submissions.
    """
    scored = and_(Submission.event_id == Event.id, Submission.state == SubmissionState.SCORED)
    row = session.execute(
        select(
            Event,
            func.count(Submission.id),
            func.coalesce(func.sum(Submission.id), 0),
            func.max(Submission.finished_at),
        )
        .outerjoin(Submission, scored)
        .where(Event.name == name)
        .group_by(Event.id)
    ).first()
    if row is None:
        return None
    event, count, id_sum, last = row
    stamp = last.timestamp() if isinstance(last, datetime) else last
    return event, f"{count}-{id_sum}-{stamp or 0}"


def load_entries(
    session: Session, event_id: int, scores: Scores, finished_since: datetime | None = None
) -> list[Entry]:
    """Every scored submission of the event with all its test scores, in one query.

    With ``finished_since``, only those finished at or after that time.
    """
    metrics = [score.name for score in scores]
    pivot = [
        func.max(
            case(
                (
                    and_(SubmissionScore.split == split, SubmissionScore.metric == metric),
                    column,
                )
            )
        )
        for column in (SubmissionScore.value, SubmissionScore.std_error)
        for split in (ScoreSplit.PUBLIC, ScoreSplit.PRIVATE)
        for metric in metrics
    ]
    stmt = (
        select(
            Submission.id,
            Submission.team_id,
            Team.name,
            Submission.name,
            Submission.created_at,
            Submission.finished_at,
            Submission.train_seconds,
            *pivot,
        )
        .join(Team, Team.id == Submission.team_id)
        .outerjoin(
            SubmissionScore,
            and_(
                SubmissionScore.submission_id == Submission.id,
                SubmissionScore.split.in_((ScoreSplit.PUBLIC, ScoreSplit.PRIVATE)),
            ),
        )
        .where(Submission.event_id == event_id, Submission.state == SubmissionState.SCORED)
        .group_by(Submission.id, Team.id)
    )
    if finished_since is not None:
        stmt = stmt.where(Submission.finished_at >= finished_since)
    n = len(metrics)

    def part(row: Sequence, index: int) -> dict[str, float | None]:
        return dict(zip(metrics, row[7 + index * n : 7 + (index + 1) * n], strict=True))

    return [
        Entry(
            *row[:7],
            public=part(row, 0),
            private=part(row, 1),
            public_error=part(row, 2),
            private_error=part(row, 3),
        )
        for row in session.execute(stmt)
    ]


def refresh_entries(
    session: Session, event_id: int, scores: Scores, token: str, previous: Sequence[Entry] | None
) -> list[Entry]:
    """The entries for ``token``, loading only what finished since ``previous`` when it can.

    After a new score only that submission is read; if the token shows that more changed
    (a re-queued submission left the board), everything is reloaded.
    """
    finished = [e.finished_at for e in previous or () if e.finished_at is not None]
    if not finished:
        return load_entries(session, event_id, scores)
    merged = {e.submission_id: e for e in previous or ()}
    merged.update(
        (e.submission_id, e)
        for e in load_entries(session, event_id, scores, finished_since=max(finished))
    )
    count, id_sum, _ = token.split("-", 2)
    if len(merged) == int(count) and sum(merged) == int(id_sum):
        return list(merged.values())
    return load_entries(session, event_id, scores)


def _sort_key(value: float | None, score: ScoreInfo) -> tuple[bool, float]:
    """Better scores first, missing scores last."""
    if value is None:
        return (True, 0.0)
    return (False, value if score.lower_is_better else -value)


def rank(entries: Iterable[Entry], score: ScoreInfo, split: str = "public") -> list[Ranked]:
    """Rank by ``score`` on ``split``; ties share a rank (1, 2, 2, 4), earliest listed first."""
    metric = score.name
    ordered = sorted(
        entries,
        key=lambda e: (
            _sort_key(getattr(e, split)[metric], score),
            e.submitted_at,
            e.submission_id,
        ),
    )
    board: list[Ranked] = []
    for position, entry in enumerate(ordered, start=1):
        value = getattr(entry, split)[metric]
        if value is None:
            board.append(Ranked(None, entry))
        elif board and getattr(board[-1].entry, split)[metric] == value:
            board.append(Ranked(board[-1].rank, entry))
        else:
            board.append(Ranked(position, entry))
    return board


def best_per_team(entries: Iterable[Entry], scores: Scores) -> list[Entry]:
    """Each team's best submission by the public official score (earliest wins a tie)."""
    best: dict[int, Entry] = {}
    for ranked in rank(entries, scores[0]):
        best.setdefault(ranked.entry.team_id, ranked.entry)
    return list(best.values())


def public_board(entries: Sequence[Entry], scores: Scores) -> list[Ranked]:
    """The live leaderboard: every scored submission by public official score."""
    return rank(entries, scores[0])


def competition_board(entries: Sequence[Entry], scores: Scores) -> list[Ranked]:
    """One line per team: its best submission by public official score."""
    return rank(best_per_team(entries, scores), scores[0])


def private_board(entries: Sequence[Entry], scores: Scores) -> list[Ranked]:
    """Each team's public pick ranked on the private test set, with its move since public."""
    picks = best_per_team(entries, scores)
    public_rank = {r.entry.submission_id: r.rank for r in rank(picks, scores[0])}
    board = []
    for ranked in rank(picks, scores[0], split="private"):
        before = public_rank[ranked.entry.submission_id]
        move = before - ranked.rank if before is not None and ranked.rank is not None else None
        board.append(Ranked(ranked.rank, ranked.entry, public_rank=before, move=move))
    return board


def team_numbers(session: Session, event_id: int) -> dict[int, str]:
    """'Team 1..N' by team creation order, so an anonymised label never changes mid-event."""
    ids = session.scalars(select(Team.id).where(Team.event_id == event_id).order_by(Team.id))
    return {team_id: f"Team {number}" for number, team_id in enumerate(ids, start=1)}
