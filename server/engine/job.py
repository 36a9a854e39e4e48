"""What the dispatcher sends to a worker and what comes back.

Plain dataclasses, picklable by Dask: the worker imports neither Flask nor the models, and only
the dispatcher turns a :class:`JobResult` into database state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class JobKind(enum.StrEnum):
    QUICK_CHECK = "quick_check"  # the first CV fold of the kit's quick-test data, on CPU
    FULL = "full"  # every CV fold, predicting the hidden test set in each


class JobOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the student's code raised, or returned invalid predictions
    TIMED_OUT = "timed_out"
    OUT_OF_MEMORY = "out_of_memory"


# The defaults of the limits an event does not set itself (settings ENGINE_*).
DEFAULT_QUICK_CHECK_TIMEOUT_SECONDS = 300
DEFAULT_MAX_PROCESSES = 512
DEFAULT_DISK_LIMIT_MB = 2048
# Predictions come back whole (ramp-workflow predicts the full training set in each fold).
DEFAULT_OUTPUT_LIMIT_MB = 16384


@dataclass(frozen=True)
class JobLimits:
    """The effective limits of one job, decided by the dispatcher; the worker enforces them."""

    timeout_seconds: int
    memory_limit_mb: int
    max_processes: int
    disk_limit_mb: int  # the sandbox's scratch tmpfs
    output_limit_mb: int  # predictions sent back by the sandbox


@dataclass(frozen=True)
class JobSpec:
    submission_id: int
    attempt: int
    kind: JobKind
    files: dict[str, bytes]  # sanitised file name -> content
    kit_dir: str  # the ramp-workflow kit: problem.py, read by the worker and the sandbox
    public_data_dir: str  # the kit's data folder for ``get_train_data`` (students have it)
    hidden_data_dir: str  # the kit's data folder for ``get_test_data``: read outside only
    hidden_split_seed: int  # draws the public and private halves of the hidden test set
    limits: JobLimits
    use_gpu: bool = False


@dataclass(frozen=True)
class ScoreRow:
    split: str  # server.models.ScoreSplit value: train / valid / public / private
    fold: int | None
    metric: str
    value: float
    std_error: float | None = None  # on the hidden halves: how far apart ranks are real


@dataclass
class JobResult:
    submission_id: int
    attempt: int
    kind: JobKind
    outcome: JobOutcome
    error_summary: str | None = None  # one line shown in lists: "timed out after 30 min"
    error_traceback: str | None = None  # the student's own traceback, platform frames removed
    log_tail: str = ""
    scores: list[ScoreRow] = field(default_factory=list)
    train_seconds: float | None = None
    valid_seconds: float | None = None
    test_seconds: float | None = None
    wall_seconds: float = 0.0
    peak_memory_mb: float | None = None
    peak_gpu_memory_mb: float | None = None
    preview_png: bytes | None = None
    # The kit's breakdown of the official score on the public half (``diagnostics`` hook).
    diagnostics: list[dict] | None = None
    worker_address: str | None = None
