"""Fair queue ordering: pure functions over the database, shared by the dispatcher and the pages.

The rule: when a worker frees up, it takes the oldest submission of the team that has used the
least compute time in the event; a team's own submissions keep their order (queued_at, id).
The order is simulated job by job, charging each pick an estimated cost, so that the positions
shown to students are the order the dispatcher will really follow on an otherwise idle queue.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Submission
from server.states import RUNNING_STATES, WAITING_FOR_WORKER_STATES

# Waiting for a worker: QUEUED needs the quick check, WAITING the full job.
# Charged per pick when the event has no finished job yet to estimate from.
DEFAULT_JOB_SECONDS = 1.0


def team_compute_seconds(session: Session, event_id: int) -> dict[int, float]:
    """Compute time charged to each team of the event (teams with none are absent)."""
    rows = session.execute(
        select(Submission.team_id, func.sum(Submission.compute_seconds))
        .where(Submission.event_id == event_id)
        .group_by(Submission.team_id)
    )
    return {team_id: float(total or 0.0) for team_id, total in rows}


def estimated_job_seconds(session: Session, event_id: int) -> float:
    """The mean compute time of the event's charged submissions: the cost of one future pick."""
    mean = session.scalar(
        select(func.avg(Submission.compute_seconds)).where(
            Submission.event_id == event_id, Submission.compute_seconds > 0
        )
    )
    return float(mean) if mean else DEFAULT_JOB_SECONDS


def fair_order(
    pending: list[Submission],
    charged: dict[int, float],
    running_per_team: dict[int, int],
    job_seconds: float,
) -> list[Submission]:
    """Order ``pending`` by the fair rule (pure: no database access).

    A team's charge is its compute time plus ``job_seconds`` per running job (it already holds
    a worker) and per pick made in the simulation; ties go to the team whose head is older.
    """
    per_team: dict[int, list[Submission]] = defaultdict(list)
    for submission in sorted(pending, key=lambda s: (s.queued_at, s.id)):
        per_team[submission.team_id].append(submission)
    heap = []
    for team_id, queue in per_team.items():
        charge = charged.get(team_id, 0.0) + job_seconds * running_per_team.get(team_id, 0)
        head = queue[0]
        heap.append((charge, head.queued_at, head.id, team_id, 0))
    heapq.heapify(heap)
    order: list[Submission] = []
    while heap:
        charge, _, _, team_id, index = heapq.heappop(heap)
        queue = per_team[team_id]
        order.append(queue[index])
        if index + 1 < len(queue):
            head = queue[index + 1]
            heapq.heappush(
                heap, (charge + job_seconds, head.queued_at, head.id, team_id, index + 1)
            )
    return order


def ordered_queue(session: Session, event_id: int) -> list[Submission]:
    """Every pending submission of the event, in the order workers will take them."""
    pending = list(
        session.scalars(
            select(Submission).where(
                Submission.event_id == event_id, Submission.state.in_(WAITING_FOR_WORKER_STATES)
            )
        )
    )
    if not pending:
        return []
    running = session.execute(
        select(Submission.team_id, func.count())
        .where(Submission.event_id == event_id, Submission.state.in_(RUNNING_STATES))
        .group_by(Submission.team_id)
    )
    return fair_order(
        pending,
        team_compute_seconds(session, event_id),
        {team_id: count for team_id, count in running},
        estimated_job_seconds(session, event_id),
    )


def next_submissions(session: Session, event_id: int, limit: int) -> list[Submission]:
    """The ``limit`` submissions the next free workers should take, first one first."""
    if limit <= 0:
        return []
    return ordered_queue(session, event_id)[:limit]


def queue_positions(session: Session, event_id: int) -> dict[int, int]:
    """Submission id -> 1-based place in the queue, for every pending submission of the event."""
    return {s.id: place for place, s in enumerate(ordered_queue(session, event_id), start=1)}


def queue_mark(session: Session, event_id: int) -> tuple[int, int | None]:
    """(count, newest id) of the pending submissions: a cheap way to see the queue change."""
    row = session.execute(
        select(func.count(), func.max(Submission.id)).where(
            Submission.event_id == event_id, Submission.state.in_(WAITING_FOR_WORKER_STATES)
        )
    ).one()
    return row[0], row[1]
