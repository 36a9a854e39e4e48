"""Jobs handed to the worker directly, without a dispatcher: built here, with the fields the
dispatcher fills in (``server/engine/dispatcher.py``), so that every test builds them one way."""

from __future__ import annotations

from pathlib import Path

from server.engine import dispatcher
from server.engine.job import JobKind, JobLimits, JobSpec
from server.models import Submission

# Small enough that a runaway submission ends a test quickly, large enough for the iris kit.
TEST_LIMITS = {
    "timeout_seconds": 60,
    "memory_limit_mb": 2048,
    "max_processes": 256,
    "disk_limit_mb": 50,
    "output_limit_mb": 50,
}


def job_spec(
    files: dict[str, bytes],
    *,
    kit_dir: Path | str,
    public_data_dir: Path | str,
    hidden_data_dir: Path | str,
    hidden_split_seed: int,
    kind: JobKind = JobKind.FULL,
    limits: dict[str, int] | None = None,
    submission_id: int = 1,
    attempt: int = 1,
    use_gpu: bool = False,
) -> JobSpec:
    """A job of the worker; ``limits`` replace the small ``TEST_LIMITS`` one by one."""
    return JobSpec(
        submission_id=submission_id,
        attempt=attempt,
        kind=kind,
        files=files,
        kit_dir=str(kit_dir),
        public_data_dir=str(public_data_dir),
        hidden_data_dir=str(hidden_data_dir),
        hidden_split_seed=hidden_split_seed,
        limits=JobLimits(**(TEST_LIMITS | (limits or {}))),
        use_gpu=use_gpu,
    )


def submission_job_spec(
    submission: Submission, kind: JobKind, limits: dict[str, int] | None = None
) -> JobSpec:
    """The dispatcher's job of a submission's current attempt, under the small test limits."""
    return dispatcher.job_spec(
        submission.event, submission, kind, JobLimits(**(TEST_LIMITS | (limits or {})))
    )
