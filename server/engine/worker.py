"""Run one job end to end on this machine: sandboxed training, then scoring outside.

``run_job`` never raises for the student's faults: every outcome comes back as a
:class:`JobResult`. Only :class:`EngineError` (the platform's fault) propagates, so that the
dispatcher can retry the job elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from server.engine.exceptions import (
    EngineError,
    ExecutionTimeLimitExceededError,
    InvalidPredictionsError,
    MemoryLimitExceededError,
    SubmissionError,
    SubmissionFailedError,
)
from server.engine.job import JobKind, JobOutcome, JobResult, JobSpec
from server.engine.sandbox import SandboxLimits, SandboxRun, SandboxSpec, run_sandboxed
from server.engine.sandbox_host import SandboxMode, wanted_mode
from server.kit import KitError, load_problem

ENTRY = Path(__file__).with_name("sandbox_entry.py")
SUBMISSION_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
OUTCOMES = {
    ExecutionTimeLimitExceededError: JobOutcome.TIMED_OUT,
    MemoryLimitExceededError: JobOutcome.OUT_OF_MEMORY,
}


def run_job(
    spec: JobSpec, scratch_root: Path, log_sink: Callable[[str], None] | None = None
) -> JobResult:
    """Run ``spec`` in a sandbox under its limits and score it; ``log_sink`` gets live output.

    Scratch files live in a fresh folder of ``scratch_root``, removed at the end whatever
    happens.
    """
    started = time.monotonic()
    result = JobResult(spec.submission_id, spec.attempt, spec.kind, JobOutcome.FAILED)
    Path(scratch_root).mkdir(parents=True, exist_ok=True)
    job_dir = Path(tempfile.mkdtemp(prefix=f"job-{spec.submission_id}-", dir=scratch_root))
    try:
        try:
            problem = load_problem(spec.kit_dir)
        except (KitError, ImportError, OSError) as exc:
            raise EngineError(f"cannot read the kit {spec.kit_dir} on this worker: {exc}") from exc
        submission_dir = write_submission(spec.files, job_dir / "submission")
        inputs_dir = job_dir / "inputs"
        inputs_dir.mkdir(mode=0o755)
        data = None
        if spec.kind is JobKind.FULL:
            from server.engine.scoring_step import read_job_data

            data = read_job_data(
                problem, Path(spec.public_data_dir), Path(spec.hidden_data_dir), inputs_dir
            )
            for path in inputs_dir.iterdir():
                path.chmod(0o644)  # the sandbox's unprivileged uid reads them
        results_dir = job_dir / "results"
        results_dir.mkdir()
        sandbox = sandbox_spec(spec, submission_dir, inputs_dir)
        run = run_sandboxed(sandbox, results_dir, log_sink)
        result.log_tail = run.log_tail
        result.peak_memory_mb = round(run.peak_memory_mb, 1)
        result.peak_gpu_memory_mb = run.peak_gpu_memory_mb
        timings = check_run(spec, run, results_dir)
        result.train_seconds = timings.get("train")
        result.valid_seconds = timings.get("valid")
        result.test_seconds = timings.get("test")
        if data is not None:
            from server.engine.scoring_step import score_full_job

            result.scores, result.preview_png, result.diagnostics = score_full_job(
                problem, data, results_dir, spec.hidden_split_seed
            )
        result.outcome = JobOutcome.SUCCEEDED
    except SubmissionError as exc:
        result.outcome = OUTCOMES.get(type(exc), JobOutcome.FAILED)
        result.error_summary = exc.summary
        result.error_traceback = exc.traceback
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
        result.wall_seconds = time.monotonic() - started
    return result


def write_submission(files: dict[str, bytes], folder: Path) -> Path:
    """The submission's files, readable by the sandbox's unprivileged uid."""
    folder.mkdir()
    folder.chmod(0o755)  # bwrap binds it as root; inside, the sandbox's uid must list it
    for name, content in files.items():
        if not SUBMISSION_FILE.fullmatch(name):
            raise SubmissionFailedError(f"invalid file name {name!r}: use letters, digits, _.-")
        (folder / name).write_bytes(content)
        (folder / name).chmod(0o644)
    return folder


def sandbox_spec(spec: JobSpec, submission_dir: Path, inputs_dir: Path) -> SandboxSpec:
    """The sandbox of one job: the kit, the public data, the submission and the hidden
    inputs, read-only; never the hidden data folder itself."""
    kit_dir = Path(spec.kit_dir).resolve()
    public_dir, hidden_dir = Path(spec.public_data_dir), Path(spec.hidden_data_dir)
    binds = [
        (submission_dir, "/submission"),
        (public_dir, "/data/public"),
        (inputs_dir, "/job"),
        (ENTRY, "/entry.py"),
        # At its own path: an editable install of the kit's package finds it there.
        (kit_dir, str(kit_dir)),
    ]
    for source, _ in binds:
        if not source.exists():
            raise EngineError(f"{source} is missing on this worker: deploy the event's files")
        # Root mode only: a rootless job runs as the worker's own user (sandbox_host.py).
        root_mode = wanted_mode() is SandboxMode.ROOT
        if root_mode and source.is_dir() and source.stat().st_mode & 0o005 != 0o005:
            raise EngineError(
                f"{source} is not readable by other users, and the sandbox runs as an "
                f"unprivileged uid: `chmod -R o+rX {source}` (never the hidden data)"
            )
    quick = spec.kind is JobKind.QUICK_CHECK
    use_gpu = spec.use_gpu and not quick
    threads = str(os.cpu_count() or 1)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": "/scratch",
        "TMPDIR": "/scratch",
        "USER": "student",
        "LOGNAME": "student",
        # The submission's folder, so that its helper modules import as top-level modules.
        "PYTHONPATH": "/submission",
        "PYTHONUNBUFFERED": "1",  # output reaches the live log as it is printed
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "OMP_NUM_THREADS": threads,
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": "2",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0") if use_gpu else "",
        "DEBLEND_JOB": json.dumps({"kind": str(spec.kind), "kit_dir": str(kit_dir)}),
    }
    if quick:
        env["RAMP_TEST_MODE"] = "1"  # the kit's own quick-test subset, as ramp-test --quick-test
    limits = spec.limits
    return SandboxSpec(
        argv=[sys.executable, "-P", "/entry.py"],  # -P: no "/" on sys.path
        binds=binds,
        env=env,
        limits=SandboxLimits(
            timeout_seconds=limits.timeout_seconds,
            memory_limit_mb=limits.memory_limit_mb,
            max_processes=limits.max_processes,
            disk_limit_mb=limits.disk_limit_mb,
            output_limit_mb=limits.output_limit_mb,
        ),
        forbidden=[hidden_dir],
        use_gpu=use_gpu,
    )


def check_run(spec: JobSpec, run: SandboxRun, results_dir: Path) -> dict[str, float]:
    """The timings of a run that went well; otherwise the SubmissionError that says why."""
    if run.timed_out:
        minutes = spec.limits.timeout_seconds / 60
        raise ExecutionTimeLimitExceededError(f"timed out after {minutes:g} min")
    if run.out_of_memory:
        raise MemoryLimitExceededError(f"out of memory (limit {spec.limits.memory_limit_mb} MB)")
    if run.result_error:
        raise InvalidPredictionsError(run.result_error)
    try:
        # Written by the entry, but the submission shares its sandbox: parse it defensively.
        status = json.loads((results_dir / "status.json").read_text())
        ok, summary = bool(status["ok"]), str(status.get("summary", ""))[:300]
        timings = {str(k): float(v) for k, v in status.get("timings", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise SubmissionFailedError(
            f"the submission ended without a result ({describe_exit(run.returncode)}): "
            "did it exit or kill its own processes?"
        ) from None
    if ok:
        return timings
    if status.get("error_type") == "MemoryError":
        raise MemoryLimitExceededError(f"out of memory (limit {spec.limits.memory_limit_mb} MB)")
    if "No space left on device" in summary:
        summary = f"scratch disk full (limit {spec.limits.disk_limit_mb} MB): {summary}"
    raise SubmissionFailedError(summary, str(status.get("traceback") or "") or None)


def describe_exit(returncode: int | None) -> str:
    """bwrap reports a child killed by signal N as 128 + N, Popen as -N."""
    if returncode is not None and (returncode < 0 or returncode > 128):
        return f"killed by signal {abs(returncode) % 128 if returncode > 0 else -returncode}"
    return f"exit code {returncode}"
