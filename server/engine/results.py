"""Submission state changes made by the dispatcher: starting a job, applying its result,
platform faults and the watchdog. Nothing else in the engine writes a submission.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.engine.job import JobKind, JobOutcome, JobResult
from server.models import ScoreSplit, Submission, SubmissionScore, utcnow
from server.states import SubmissionState

LOG_TAIL_CHARS = 10_000
PLATFORM_FAULT_SUMMARY = "the platform failed to run this submission"

_S = SubmissionState
_RUNNING_STATE = {JobKind.QUICK_CHECK: _S.CHECKING, JobKind.FULL: _S.TRAINING}
_FAILED_STATE = {
    JobOutcome.FAILED: _S.FAILED,
    JobOutcome.TIMED_OUT: _S.TIMED_OUT,
    JobOutcome.OUT_OF_MEMORY: _S.OUT_OF_MEMORY,
}


def job_key(submission_id: int, attempt: int, kind: JobKind) -> str:
    """The Dask key of a job: deterministic, so a restarted dispatcher can find it again."""
    return f"deblend-{submission_id}-{attempt}-{kind.value}"


def kind_for(state: SubmissionState) -> JobKind:
    """The job a pending (or running) submission needs."""
    return JobKind.QUICK_CHECK if state in (_S.QUEUED, _S.CHECKING) else JobKind.FULL


def start_job(submission: Submission) -> tuple[JobKind, str]:
    """Move a pending submission to its running state; returns the job kind and key."""
    kind = kind_for(submission.state)
    submission.set_state(_RUNNING_STATE[kind])
    submission.job_key = job_key(submission.id, submission.attempts, kind)
    submission.worker_address = None
    submission.started_at = utcnow()
    return kind, submission.job_key


def owns_job(submission: Submission, key: str) -> bool:
    """Whether ``key`` is the job the submission is running now (else its result is stale)."""
    return submission.job_key == key and submission.state in _RUNNING_STATE.values()


def append_log(submission: Submission, chunk: str) -> None:
    """Append streamed output, keeping the last ``LOG_TAIL_CHARS`` characters."""
    submission.log_tail = ((submission.log_tail or "") + chunk)[-LOG_TAIL_CHARS:]


def apply_result(session: Session, submission: Submission, result: JobResult, key: str) -> bool:
    """Record a finished job; False (and nothing written) when the job is no longer current."""
    if not owns_job(submission, key):
        return False
    # Student time, whatever the outcome: the basis of fair scheduling.
    submission.compute_seconds = (submission.compute_seconds or 0.0) + result.wall_seconds
    submission.worker_address = result.worker_address or submission.worker_address
    submission.log_tail = result.log_tail[-LOG_TAIL_CHARS:] or submission.log_tail
    submission.peak_memory_mb = _max(submission.peak_memory_mb, result.peak_memory_mb)
    submission.peak_gpu_memory_mb = _max(submission.peak_gpu_memory_mb, result.peak_gpu_memory_mb)
    if result.outcome is not JobOutcome.SUCCEEDED:
        submission.error_summary = (result.error_summary or result.outcome.value)[:500]
        submission.error_traceback = result.error_traceback
        _finish(submission, _FAILED_STATE[result.outcome])
        return True
    submission.error_summary = None
    submission.error_traceback = None
    if result.kind is JobKind.QUICK_CHECK:
        submission.set_state(_S.WAITING)
        submission.job_key = None
        return True
    submission.train_seconds = result.train_seconds
    submission.valid_seconds = result.valid_seconds
    submission.test_seconds = result.test_seconds
    submission.preview_png = result.preview_png
    submission.diagnostics = result.diagnostics
    submission.scores.clear()
    session.flush()  # the unique (split, fold, metric) rows must go before the new ones
    submission.scores.extend(
        SubmissionScore(
            split=ScoreSplit(r.split),
            fold=r.fold,
            metric=r.metric,
            value=r.value,
            std_error=r.std_error,
        )
        for r in result.scores
    )
    _finish(submission, _S.SCORED)
    return True


def requeue_after_fault(submission: Submission, max_retries: int, *, count_retry: bool) -> bool:
    """Send a job lost by the platform back to the queue; the team is not charged.

    ``count_retry`` is True for a worker death (bounded by ``max_retries``, after which the
    submission fails as a platform fault) and False when the whole scheduler went away.
    Returns True when it was re-queued.
    """
    if count_retry:
        submission.attempts += 1
    submission.job_key = None
    submission.worker_address = None
    if submission.attempts > max_retries:
        submission.platform_fault = True
        submission.error_summary = PLATFORM_FAULT_SUMMARY
        submission.error_traceback = None
        _finish(submission, _S.FAILED)
        return False
    back = _S.QUEUED if submission.state is _S.CHECKING else _S.WAITING
    submission.set_state(back)
    return True


def time_out(submission: Submission, elapsed_seconds: float) -> None:
    """The watchdog's verdict on a job that outlived its limit; charged like any timeout."""
    submission.compute_seconds = (submission.compute_seconds or 0.0) + elapsed_seconds
    submission.error_summary = f"timed out after {elapsed_seconds / 60:.1f} min (watchdog)"
    submission.error_traceback = None
    _finish(submission, _S.TIMED_OUT)


def _finish(submission: Submission, state: SubmissionState) -> None:
    submission.set_state(state)
    submission.finished_at = utcnow()
    submission.job_key = None


def _max(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None
