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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from server.engine.sandbox import (
    SandboxLimits,
    SandboxRun,
    SandboxSpec,
    StartedSandbox,
    start_sandbox,
)
from server.engine.sandbox_host import SandboxMode, wanted_mode
from server.kit import KitError, load_problem

ENTRY = Path(__file__).with_name("sandbox_entry.py")
SUBMISSION_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# A started sandbox waits this long for its job (it holds ~150-250 MB), then is discarded.
READY_IDLE_SECONDS = 600.0
READY_KINDS = 2
# Not the kit's code: what ramp-test and students leave in a kit folder, and its data.
KIT_NOT_CODE = {"submissions", "data", "__pycache__", ".git", ".ipynb_checkpoints"}
OUTCOMES = {
    ExecutionTimeLimitExceededError: JobOutcome.TIMED_OUT,
    MemoryLimitExceededError: JobOutcome.OUT_OF_MEMORY,
}


def run_job(
    spec: JobSpec,
    scratch_root: Path,
    log_sink: Callable[[str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    ready: ReadySandboxes | None = None,
) -> JobResult:
    """Run ``spec`` in a sandbox under its limits and score it; ``log_sink`` gets live output.

    ``cancelled`` says when the job is no longer wanted (see :func:`run_sandboxed`). With
    ``ready``, the job takes a sandbox started for its kind of job if one waits there, and a
    sandbox for the next such job is started when it ends.

    Scratch files live in a fresh folder of ``scratch_root``, removed at the end whatever
    happens.
    """
    started = time.monotonic()
    result = JobResult(spec.submission_id, spec.attempt, spec.kind, JobOutcome.FAILED)
    taken = ready.take(spec, scratch_root) if ready is not None else None
    job_dir = taken.job_dir if taken is not None else new_job_dir(spec, scratch_root)
    try:
        try:
            problem = load_problem(spec.kit_dir)
        except (KitError, ImportError, OSError) as exc:
            raise EngineError(f"cannot read the kit {spec.kit_dir} on this worker: {exc}") from exc
        write_submission(spec.files, job_dir / "submission")
        data = None
        if spec.kind is JobKind.FULL:
            from server.engine.scoring_step import read_job_data

            inputs_dir = job_dir / "inputs"
            data = read_job_data(
                problem, Path(spec.public_data_dir), Path(spec.hidden_data_dir), inputs_dir
            )
            for path in inputs_dir.iterdir():
                path.chmod(0o644)  # the sandbox's unprivileged uid reads them
        if taken is not None and taken.sandbox.alive():
            sandbox = taken.sandbox
        else:
            if taken is not None:
                taken.sandbox.discard()  # it died waiting (the host's OOM killer): start anew
            sandbox = start_sandbox(sandbox_spec(spec, job_dir), job_dir / "results")
        taken = None
        run = sandbox.run(log_sink, cancelled)
        result.log_tail = run.log_tail
        result.peak_memory_mb = round(run.peak_memory_mb, 1)
        result.peak_gpu_memory_mb = run.peak_gpu_memory_mb
        timings = check_run(spec, run, job_dir / "results")
        result.train_seconds = timings.get("train")
        result.valid_seconds = timings.get("valid")
        result.test_seconds = timings.get("test")
        if data is not None:
            from server.engine.scoring_step import score_full_job

            result.scores, result.preview_png, result.diagnostics = score_full_job(
                problem, data, job_dir / "results", spec.hidden_split_seed
            )
        result.outcome = JobOutcome.SUCCEEDED
    except SubmissionError as exc:
        result.outcome = OUTCOMES.get(type(exc), JobOutcome.FAILED)
        result.error_summary = exc.summary
        result.error_traceback = exc.traceback
    finally:
        if taken is not None:
            taken.sandbox.discard()
        shutil.rmtree(job_dir, ignore_errors=True)
        result.wall_seconds = time.monotonic() - started
    # Not after a platform fault: the worker may be closing, or the job was let go.
    if ready is not None:
        ready.prepare(spec, scratch_root)
    return result


def new_job_dir(spec: JobSpec, scratch_root: Path) -> Path:
    """A fresh folder of ``scratch_root`` for one job: ``submission/`` and ``inputs/`` (bound
    into the sandbox, readable by its unprivileged uid) and ``results/`` (what comes back)."""
    Path(scratch_root).mkdir(parents=True, exist_ok=True)
    job_dir = Path(tempfile.mkdtemp(prefix=f"job-{spec.submission_id}-", dir=scratch_root))
    for name in ("submission", "inputs"):
        (job_dir / name).mkdir(mode=0o755)
        (job_dir / name).chmod(0o755)  # whatever the umask: bwrap binds it as root
    (job_dir / "results").mkdir()
    return job_dir


def write_submission(files: dict[str, bytes], folder: Path) -> Path:
    """The submission's files, readable by the sandbox's unprivileged uid."""
    for name, content in files.items():
        if not SUBMISSION_FILE.fullmatch(name):
            raise SubmissionFailedError(f"invalid file name {name!r}: use letters, digits, _.-")
        (folder / name).write_bytes(content)
        (folder / name).chmod(0o644)
    return folder


@dataclass
class ReadySandbox:
    job_dir: Path
    sandbox: StartedSandbox


class ReadySandboxes:
    """Sandboxes started ahead of a worker's next jobs, so that a job finds ramp-workflow, the
    kit and its public data already loaded (about 1.5 s of start-up, most of it importing
    scikit-learn) and the student's code starts at once.

    After each job, one sandbox is started for a job of the same kind, kit, data and limits;
    the next such job takes it. Per job slot (``capacity``), one waits for each of the last
    ``READY_KINDS`` kinds of job (a quick check and a full run of one event), each for
    ``idle_seconds`` at most. Each serves one job only: nothing of a student's run is ever
    seen by the next.
    """

    def __init__(self, capacity: int = 1, idle_seconds: float = READY_IDLE_SECONDS) -> None:
        self.capacity = capacity
        self.room = capacity * READY_KINDS
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._waiting: list[tuple[tuple, ReadySandbox]] = []  # oldest first

    def take(self, spec: JobSpec, scratch_root: Path) -> ReadySandbox | None:
        key = ready_key(spec, scratch_root)
        with self._lock:
            for index, (waiting_key, ready) in enumerate(self._waiting):
                if waiting_key == key:
                    del self._waiting[index]
                    return ready
        return None

    def prepare(self, spec: JobSpec, scratch_root: Path) -> None:
        """Start a sandbox for the next job like ``spec``; a failure only costs that job the
        start-up time (the cold path reports it properly)."""
        try:
            key = ready_key(spec, scratch_root)
            job_dir = new_job_dir(spec, scratch_root)
        except OSError:
            return
        try:
            sandbox = start_sandbox(sandbox_spec(spec, job_dir), job_dir / "results")
        except (EngineError, OSError):
            shutil.rmtree(job_dir, ignore_errors=True)
            return
        ready = ReadySandbox(job_dir, sandbox)
        with self._lock:
            self._waiting.append((key, ready))
            # Oldest first: the new key's surplus, then whatever exceeds the room.
            same = [entry for entry in self._waiting if entry[0] == key]
            evicted = same[: max(0, len(same) - self.capacity)]
            kept = [entry for entry in self._waiting if entry not in evicted]
            evicted += kept[: max(0, len(kept) - self.room)]
            self._waiting = [entry for entry in kept if entry not in evicted]
        for _, old in evicted:
            _discard(old)
        timer = threading.Timer(self.idle_seconds, self._expire, args=(ready,))
        timer.daemon = True
        timer.start()

    def _expire(self, ready: ReadySandbox) -> None:
        with self._lock:
            found = [entry for entry in self._waiting if entry[1] is ready]
            for entry in found:
                self._waiting.remove(entry)
        if found:
            _discard(ready)

    def close(self) -> None:
        """Discard every waiting sandbox (the worker is closing)."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for _, ready in waiting:
            _discard(ready)


def _discard(ready: ReadySandbox) -> None:
    ready.sandbox.discard()
    shutil.rmtree(ready.job_dir, ignore_errors=True)


def ready_key(spec: JobSpec, scratch_root: Path) -> tuple:
    """What a started sandbox depends on: everything of the job but the submission itself,
    and the kit's code as it is now (a kit edited since is loaded anew)."""
    return (
        spec.kind,
        spec.kit_dir,
        kit_code_stamp(Path(spec.kit_dir)),
        spec.public_data_dir,
        spec.hidden_data_dir,
        spec.limits,
        spec.use_gpu,
        str(scratch_root),
        wanted_mode(),
    )


def kit_code_stamp(kit_dir: Path) -> tuple:
    """(path, size, mtime) of the kit's Python files, its reference submissions aside."""
    stamp = []
    for dirpath, dirnames, filenames in os.walk(kit_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in KIT_NOT_CODE)
        for name in sorted(filenames):
            if name.endswith(".py"):
                try:
                    info = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                stamp.append((os.path.join(dirpath, name), info.st_size, info.st_mtime_ns))
    return tuple(stamp)


def sandbox_spec(spec: JobSpec, job_dir: Path) -> SandboxSpec:
    """The sandbox of one job: the kit, the public data, the submission and the hidden
    inputs (``job_dir``'s folders), read-only; never the hidden data folder itself."""
    submission_dir, inputs_dir = job_dir / "submission", job_dir / "inputs"
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
