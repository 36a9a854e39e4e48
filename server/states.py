"""The submission lifecycle: one Enum and the one function allowed to move between states."""

from __future__ import annotations

import enum


class SubmissionState(enum.StrEnum):
    """Where a submission stands; stored by name in the database."""

    QUEUED = "queued"  # waiting for the quick check or for a worker
    CHECKING = "checking"  # quick CPU check: import, fit/predict on a handful of blends
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
        return self in (SubmissionState.QUEUED, SubmissionState.CHECKING, SubmissionState.WAITING)


FINAL_STATES = frozenset(
    {
        SubmissionState.SCORED,
        SubmissionState.FAILED,
        SubmissionState.TIMED_OUT,
        SubmissionState.OUT_OF_MEMORY,
        SubmissionState.CANCELLED,
    }
)

_S = SubmissionState
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
