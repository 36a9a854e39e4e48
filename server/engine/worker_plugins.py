"""The plugins every Dask worker runs: its host checked when it starts, its jobs stopped
when it closes.

A worker on another host (a Slurm node, a second GPU server) needs: the project's code at the
dispatcher's version, installed in a venv with the dispatcher's Python; the event's kit, public
data and hidden set at the same paths, readable by the worker's user; a writable scratch
folder; and a sandbox that can start (root, or unprivileged user namespaces). The plugin says
which of these is missing, and the fix, in the worker's log (a Slurm job's output file, the
journal) and, for the workers already up when the dispatcher starts, in the dispatcher's log.

The check does not stop the worker: a job that reaches a worker without its data fails there
as the platform's fault (re-queued, not charged to the team), never as the student's. This
module imports nothing from the project at import time: it travels to the workers by value, so
that a worker where the project itself is missing can say so.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

# Under Dask's own logger, whose handlers every worker sets up: the lines reach the worker's
# log (a Slurm job's output file, the journal) whatever the root logger's level.
log = logging.getLogger("distributed.worker.deblend")

PLUGIN_NAME = "deblend-host-check"
# The worker side of the project: its version must be the dispatcher's.
ENGINE_PACKAGE = "server.engine"
MIN_SCRATCH_FREE_MB = 1024


class WorkerHostError(RuntimeError):
    """A worker host lacks what jobs need: the message lists each problem and its fix."""


class WorkerHostCheck(WorkerPlugin):
    """Checks a worker's host against what the dispatcher's jobs will need."""

    name = PLUGIN_NAME
    idempotent = False  # a rebuilt client registers it again: check again

    def __init__(
        self,
        readable: dict[str, str],
        scratch_dir: str,
        python_version: tuple[int, int],
        code_digest: str,
        need_sandbox: bool = True,
    ) -> None:
        self.readable = readable  # what -> path, e.g. {"the event's kit": "/srv/.../kit"}
        self.scratch_dir = scratch_dir
        self.python_version = tuple(python_version)
        self.code_digest = code_digest
        self.need_sandbox = need_sandbox

    @classmethod
    def here(
        cls, readable: dict[str, str], scratch_dir: str, need_sandbox: bool = True
    ) -> WorkerHostCheck:
        """A check that workers match this (the dispatcher's) host."""
        return cls(readable, scratch_dir, sys.version_info[:2], code_digest(), need_sandbox)

    def setup(self, worker: object = None) -> None:
        problems = self.problems()
        if problems:
            where = getattr(worker, "address", "this worker")
            message = f"worker {where} cannot run jobs: " + "; ".join(problems)
            log.error(message)
            raise WorkerHostError(message)
        log.info("worker host check passed")

    def problems(self) -> list[str]:
        """Each thing this host lacks, with its fix; empty when it has them all."""
        problems = []
        if sys.version_info[:2] != self.python_version:
            want = ".".join(map(str, self.python_version))
            problems.append(
                f"Python {sys.version.split()[0]} ({sys.executable}), the dispatcher runs "
                f"{want}: build the worker's venv with Python {want}"
            )
        if importlib.util.find_spec(ENGINE_PACKAGE) is None:
            problems.append(
                f"the project's code is not importable by {sys.executable}: install the "
                "dispatcher's checkout in this venv (`pip install -e <checkout>`)"
            )
        elif code_digest() != self.code_digest:
            problems.append(
                f"the project's code here ({_package_folder()}) differs from the "
                "dispatcher's: deploy the same commit on every host"
            )
        for what, path in self.readable.items():
            if not os.path.isdir(path):
                problems.append(f"{what} {path} is missing: copy or mount it at that path")
            elif not os.access(path, os.R_OK | os.X_OK):
                problems.append(
                    f"{what} {path} is not readable by uid {os.geteuid()}: give this user "
                    "read access (chmod / chown / group)"
                )
        problems += self._scratch_problems()
        if self.need_sandbox:
            problems += _sandbox_problems()
        return problems

    def _scratch_problems(self) -> list[str]:
        try:
            Path(self.scratch_dir).mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.scratch_dir):
                pass
        except OSError as exc:
            return [
                f"the scratch folder {self.scratch_dir} is not writable by uid "
                f"{os.geteuid()} ({exc.strerror}): create it, owned by this user"
            ]
        free_mb = shutil.disk_usage(self.scratch_dir).free // 2**20
        if free_mb < MIN_SCRATCH_FREE_MB:
            return [
                f"the scratch folder {self.scratch_dir} has {free_mb} MB free, expected at "
                f"least {MIN_SCRATCH_FREE_MB} MB: free space or point scratch_dir elsewhere"
            ]
        return []


class JobsStopWithWorker(WorkerPlugin):
    """A closing worker (its scheduler gone, its Slurm job or service stopping) stops its
    sandboxes at once, instead of waiting for them to end while their jobs run again on
    other workers: the job is then the platform's fault, re-queued, never charged."""

    name = "deblend-jobs-stop-with-worker"
    idempotent = True

    def teardown(self, worker: Any) -> None:
        from server.engine.sandbox import stop_running
        from server.engine.tasks import close_ready_sandboxes

        stop_running(f"the worker {worker.address} is closing")
        close_ready_sandboxes()


def _sandbox_problems() -> list[str]:
    if importlib.util.find_spec(ENGINE_PACKAGE) is None:
        return []  # already reported: no code, no sandbox check
    from server.engine.exceptions import SandboxUnavailableError
    from server.engine.sandbox_host import check_available

    try:
        check_available()
    except SandboxUnavailableError as exc:
        return [f"no sandbox can start: {exc}"]
    return []


def _package_folder() -> Path | None:
    spec = importlib.util.find_spec(ENGINE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def code_digest() -> str:
    """A digest of the engine's Python sources as installed here ('' where it is missing)."""
    folder = _package_folder()
    if folder is None:
        return ""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
