"""The submission changes made by people rather than by the engine: re-queue and cancel.

One place for both, used by the instructors' pages; the dispatcher only ever sees the result
(a QUEUED submission with nothing left of its previous run, or a CANCELLED one).
"""

from __future__ import annotations

from server.models import Submission, utcnow
from server.states import SubmissionState

# Everything a run leaves on a submission; a re-queued submission starts without any of it.
RUN_OUTPUTS = (
    "started_at",
    "finished_at",
    "job_key",
    "worker_address",
    "error_summary",
    "error_traceback",
    "log_tail",
    "train_seconds",
    "valid_seconds",
    "test_seconds",
    "peak_memory_mb",
    "peak_gpu_memory_mb",
    "preview_png",
    "diagnostics",
)


def requeue(submission: Submission) -> None:
    """Back to the queue as if just received: fresh retries, no fault, no previous results.

    The compute time already spent stays charged to the team (fair scheduling).
    """
    submission.set_state(SubmissionState.QUEUED)
    submission.queued_at = utcnow()
    submission.attempts = 0
    submission.platform_fault = False
    submission.scores.clear()
    for name in RUN_OUTPUTS:
        setattr(submission, name, None)


def cancel(submission: Submission) -> None:
    """Stop a pending or running submission; the dispatcher drops its job."""
    submission.set_state(SubmissionState.CANCELLED)
    submission.finished_at = utcnow()
    submission.job_key = None
