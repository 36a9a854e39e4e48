"""A worker that dies mid-job takes its job's sandbox with it: bwrap runs with
``--die-with-parent``, so no student process outlives the process that started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import distributed
import psutil
import pytest
from helpers import DaskProcesses, sandbox_processes, wait_for

from server.engine.job import JobKind, JobSpec
from server.engine.tasks import run_job_task

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

# A process that runs one sandboxed sleeper and nothing else, as a Dask worker would.
RUNNER = """
import sys
from pathlib import Path
from server.engine.sandbox import SandboxLimits, SandboxSpec, run_sandboxed
limits = SandboxLimits(600, 1024, 64, 10, 10)
argv = [sys.executable, "-c", "import time; time.sleep(600)"]
run_sandboxed(SandboxSpec(argv, [], {"PATH": "/usr/bin"}, limits), Path(sys.argv[1]))
"""
# Sleeps at import, so the sandbox is alive for as long as the test needs.
SLEEPER = "import time\n\nprint('started', flush=True)\ntime.sleep(600)\n"


def bwrap_processes(scratch: Path) -> list[psutil.Process]:
    """The live prlimit/bwrap processes of the jobs under ``scratch`` (they run as root)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline, status = process.info["cmdline"] or [], process.info["status"]
        if status != psutil.STATUS_ZOMBIE and any(str(scratch) in arg for arg in cmdline):
            found.append(process)
    return found


def test_worker_killed_mid_job_leaves_no_sandbox_process(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    procs = DaskProcesses(n_workers=1)
    client = distributed.Client(procs.address, timeout=30, set_as_default=False)
    try:
        client.wait_for_workers(1, timeout=60)
        [worker_pid] = client.run(os.getpid).values()
        limits = {"timeout_seconds": 600}
        spec = make_spec(SLEEPER, kind=JobKind.QUICK_CHECK, limits=limits)
        future = client.submit(run_job_task, spec, str(tmp_path), "deblend-log-0", pure=False)
        wait_for(lambda: sandbox_processes(worker_pid), timeout=60, what="the sandbox running")
        assert bwrap_processes(tmp_path)
        os.kill(worker_pid, signal.SIGKILL)
        wait_for(
            lambda: not sandbox_processes(worker_pid) and not bwrap_processes(tmp_path),
            timeout=30,
            what="every sandbox process of the dead worker gone",
        )
        future.release()
    finally:
        client.close()
        procs.close()


def test_sandbox_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    # A plain parent, killed with SIGKILL: nothing else (no nanny) cleans up after it.
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path)], cwd=Path.cwd())
    tree: list[psutil.Process] = []
    try:
        wait_for(lambda: sandbox_processes(runner.pid), timeout=60, what="the sandbox running")
        tree = psutil.Process(runner.pid).children(recursive=True)
        assert any(process.name() == "bwrap" for process in tree)
        runner.kill()
        runner.wait(10)
        wait_for(
            lambda: not any(_alive(process) for process in tree),
            timeout=30,
            what="bwrap and the sandboxed program gone",
        )
    finally:
        for process in [psutil.Process(runner.pid), *tree] if runner.poll() is None else tree:
            try:
                process.kill()  # the test failed: leave the machine clean anyway
            except psutil.Error:
                pass
        runner.wait(10)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
