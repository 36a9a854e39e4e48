"""The lifecycles of submissions and events: one Enum each, and the one function each that
allows a move between states."""

from __future__ import annotations

import enum


class SubmissionState(enum.StrEnum):
    """Where a submission stands; stored by name in the database."""

    QUEUED = "queued"  # waiting for the quick check or for a worker
    CHECKING = "checking"  # quick CPU check: the first fold of the kit's quick-test data
    WAITING = "waiting"  # passed the check, waiting for a (GPU) worker
    TRAINING = "training"  # running on a worker
    SCORED = "scored"
    FAILED = "failed"  # the student's code raised, or its output was invalid
    TIMED_OUT = "timed_out"
    OUT_OF_MEMORY = "out_of_memory"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES

    @property
    def is_pending(self) -> bool:
        """Not yet trained: in the queue or in its quick check."""
        return self in PENDING_STATES


_S = SubmissionState
# The groups of states, decided here once: every query and page uses these.
WAITING_FOR_WORKER_STATES = frozenset({_S.QUEUED, _S.WAITING})  # no job of it runs
RUNNING_STATES = frozenset({_S.CHECKING, _S.TRAINING})  # a job of it runs on a worker
PENDING_STATES = frozenset({_S.QUEUED, _S.CHECKING, _S.WAITING})
FAILED_STATES = frozenset({_S.FAILED, _S.TIMED_OUT, _S.OUT_OF_MEMORY})
FINAL_STATES = FAILED_STATES | {_S.SCORED, _S.CANCELLED}

ALLOWED_TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    _S.QUEUED: frozenset({_S.CHECKING, _S.CANCELLED}),
    # CHECKING/TRAINING -> QUEUED/WAITING: the worker died or the dispatcher re-queued it.
    _S.CHECKING: frozenset(
        {_S.WAITING, _S.QUEUED, _S.FAILED, _S.TIMED_OUT, _S.OUT_OF_MEMORY, _S.CANCELLED}
    ),
    _S.WAITING: frozenset({_S.TRAINING, _S.CANCELLED}),
    _S.TRAINING: frozenset(
        {_S.SCORED, _S.FAILED, _S.TIMED_OUT, _S.OUT_OF_MEMORY, _S.WAITING, _S.CANCELLED}
    ),
    # An instructor may re-queue any finished submission.
    _S.SCORED: frozenset({_S.QUEUED}),
    _S.FAILED: frozenset({_S.QUEUED}),
    _S.TIMED_OUT: frozenset({_S.QUEUED}),
    _S.OUT_OF_MEMORY: frozenset({_S.QUEUED}),
    _S.CANCELLED: frozenset({_S.QUEUED}),
}


class IllegalTransitionError(ValueError):
    """A state change the lifecycle does not allow."""


def check_transition(current: SubmissionState, new: SubmissionState) -> None:
    """Raise :class:`IllegalTransitionError` unless ``current -> new`` is allowed."""
    if new not in ALLOWED_TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[current])) or "none"
        raise IllegalTransitionError(
            f"cannot move a submission from {current.value!r} to {new.value!r}; "
            f"allowed from {current.value!r}: {allowed}"
        )


class EventState(enum.StrEnum):
    """Where an event stands; stored by name in the database."""

    DRAFT = "draft"  # visible to instructors only
    OPEN = "open"  # students submit; the public leaderboard is live
    CLOSED = "closed"  # no more submissions; private scores and code are revealed


EVENT_TRANSITIONS: dict[EventState, frozenset[EventState]] = {
    EventState.DRAFT: frozenset({EventState.OPEN}),
    EventState.OPEN: frozenset({EventState.CLOSED}),
    # Reopened to extend the deadline; the private scores were already shown.
    EventState.CLOSED: frozenset({EventState.OPEN}),
}


def check_event_transition(current: EventState, new: EventState) -> None:
    """Raise :class:`IllegalTransitionError` unless an event may go from ``current`` to ``new``."""
    if new not in EVENT_TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in EVENT_TRANSITIONS[current]))
        raise IllegalTransitionError(
            f"cannot move an event from {current.value!r} to {new.value!r}; "
            f"allowed from {current.value!r}: {allowed}"
        )
