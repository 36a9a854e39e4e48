"""What the dispatcher sends to a worker and what comes back.

Plain dataclasses, picklable by Dask: the worker imports neither Flask nor the models, and only
the dispatcher turns a :class:`JobResult` into database state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class JobKind(enum.StrEnum):
    QUICK_CHECK = "quick_check"  # import + fit/predict on a handful of blends, on CPU
    FULL = "full"  # every CV fold, then the hidden test set


class JobOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the student's code raised, or returned invalid predictions
    TIMED_OUT = "timed_out"
    OUT_OF_MEMORY = "out_of_memory"


@dataclass(frozen=True)
class JobSpec:
    submission_id: int
    attempt: int
    kind: JobKind
    files: dict[str, bytes]  # sanitised file name -> content; always holds deblender.py
    public_data_dir: str  # student release: <dir>/data/train, <dir>/data/test
    hidden_data_dir: str  # hidden set: <dir>/inputs (sandbox sees it), <dir>/labels (never)
    n_folds: int = 1
    timeout_seconds: int = 1800
    memory_limit_mb: int = 8192
    max_processes: int = 512
    disk_limit_mb: int = 2048
    use_gpu: bool = False


@dataclass(frozen=True)
class ScoreRow:
    split: str  # server.models.ScoreSplit value: train / valid / public / private
    fold: int | None
    metric: str
    value: float


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
    worker_address: str | None = None
