"""The ways a job can end other than with scores, one exception each.

``SubmissionError`` and its subclasses are the student's fault and become a ``JobResult``;
``EngineError`` is the platform's and propagates, so that the dispatcher retries the job.
"""

from __future__ import annotations


class EngineError(Exception):
    """The platform could not run the job (missing data, no sandbox): not the student's fault."""


class SandboxUnavailableError(EngineError):
    """bubblewrap (or prlimit / setpriv) is missing or cannot create a sandbox on this host."""


class SubmissionError(Exception):
    """The submission ended without usable predictions; ``summary`` is one line for lists."""

    def __init__(self, summary: str, traceback: str | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.traceback = traceback


class SubmissionFailedError(SubmissionError):
    """The student's code raised, exited early or killed its own sandbox."""


class InvalidPredictionsError(SubmissionError):
    """Predictions of the wrong shape, type or range, or too large to keep."""


class ExecutionTimeLimitExceededError(SubmissionError):
    """The job ran past ``JobSpec.timeout_seconds``."""


class MemoryLimitExceededError(SubmissionError):
    """The sandbox's processes used more than ``JobSpec.memory_limit_mb``."""
