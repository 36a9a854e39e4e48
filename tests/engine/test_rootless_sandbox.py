"""The rootless sandbox as an unprivileged worker runs it: the job's process limit counts the
job alone, the worker's own processes are never starved, the job dies with the worker, and a
host without user namespaces gets a message that says what to enable."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import wait_for
from unprivileged import UserRunner, processes_of

from server.engine import sandbox_host
from server.engine.exceptions import SandboxUnavailableError
from server.engine.sandbox import (
    SandboxLimits,
    SandboxMode,
    SandboxRun,
    SandboxSpec,
    run_sandboxed,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

# Forks ``n`` children that sleep, then says how many it got.
CHILDREN = """
import os, sys, time
n, made = int(sys.argv[1]), 0
for _ in range(n):
    try:
        if os.fork() == 0:
            time.sleep(float(sys.argv[2]))
            os._exit(0)
        made += 1
    except OSError:
        break
print("children", made, flush=True)
for _ in range(made):
    os.wait()
"""


def sandboxed(program: str, *args: str, max_processes: int, timeout: float) -> SandboxSpec:
    limits = SandboxLimits(timeout, 1024, max_processes, 10, 1)
    argv = [sys.executable, "-c", program, *args]
    return SandboxSpec(argv, [], {"PATH": "/usr/bin:/bin"}, limits, mode=SandboxMode.ROOTLESS)


def my_tasks() -> int:
    """Tasks (threads included) of this process's real uid: what RLIMIT_NPROC counts."""
    uid, total = os.getuid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid:
            total += int(fields["Threads"])
    return total


def job_beside_busy_worker(workdir: str) -> tuple[SandboxRun, int]:
    """With 80 threads of its own (more than the job's limit of 48), the worker starts a job
    that forks 30 children. Returns the run and the worker's task count meanwhile."""
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(80)]
    for thread in threads:
        thread.start()
    try:
        tasks = my_tasks()
        spec = sandboxed(CHILDREN, "30", "0.5", max_processes=48, timeout=30)
        return run_sandboxed(spec, Path(workdir)), tasks
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def bomb_beside_worker(workdir: str) -> tuple[SandboxRun, list[str]]:
    """The worker user may have 150 tasks more than it has now. A fork bomb limited to 48
    runs while the worker starts 60 processes of its own; returns the run and their errors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    resource.setrlimit(resource.RLIMIT_NPROC, (my_tasks() + 150, hard))
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    spec = sandboxed(bomb, max_processes=48, timeout=6)
    runs: list[SandboxRun] = []
    thread = threading.Thread(target=lambda: runs.append(run_sandboxed(spec, Path(workdir))))
    thread.start()
    time.sleep(2)  # the bomb is at its limit by now
    errors = []
    for _ in range(60):
        try:
            subprocess.run(["true"], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            errors.append(repr(exc))
    thread.join()
    resource.setrlimit(resource.RLIMIT_NPROC, (soft, hard))
    return runs[0], errors


def bind_unreadable(folder: str) -> str:
    """Runs a sandbox that binds ``folder``; returns the error it raised."""
    limits = SandboxLimits(30, 1024, 48, 10, 1)
    spec = SandboxSpec(["/usr/bin/true"], [(Path(folder), "/data")], {}, limits)
    try:
        run_sandboxed(spec, Path(tempfile.gettempdir()))  # refused before it writes there
    except SandboxUnavailableError as exc:
        return str(exc)
    return "no error"


def sleeping_job(workdir: str) -> None:
    spec = sandboxed(CHILDREN, "5", "600", max_processes=48, timeout=600)
    run_sandboxed(spec, Path(workdir))


def test_rootless_process_limit_counts_the_job_alone(user_runner: UserRunner) -> None:
    run, worker_tasks = user_runner(job_beside_busy_worker, str(user_runner.workdir))
    assert worker_tasks > 80  # the worker alone holds more tasks than the job may
    assert run.returncode == 0, run.log_tail
    assert "children 30" in run.log_tail


def test_rootless_fork_bomb_leaves_the_worker_room(user_runner: UserRunner) -> None:
    run, errors = user_runner(bomb_beside_worker, str(user_runner.workdir))
    assert run.timed_out
    assert errors == []


def test_rootless_job_dies_with_its_worker(user_runner: UserRunner) -> None:
    uid = user_runner.user.pw_uid
    call = user_runner.start(sleeping_job, str(user_runner.workdir))
    try:
        # The worker's Python, bwrap outside and inside, the job and its five children.
        wait_for(lambda: len(processes_of(uid)) >= 9, timeout=60, what="the job's children")
        os.kill(call.python().pid, signal.SIGKILL)
        wait_for(lambda: processes_of(uid) == [], timeout=30, what="every process of the job gone")
    finally:
        call.process.kill()
        call.process.wait()


def test_rootless_data_the_worker_cannot_read_is_the_platforms_fault(
    user_runner: UserRunner, shared_tmp: Path
) -> None:
    private = Path(tempfile.mkdtemp(dir=shared_tmp))  # root's, 0700
    message = user_runner(bind_unreadable, str(private))
    uid = user_runner.user.pw_uid
    assert message.startswith(f"{private} is not readable by uid {uid}, the worker's user")


@pytest.fixture
def fake_bwrap(shared_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A ``bwrap`` that fails as it does where user namespaces are disabled."""
    folder = Path(tempfile.mkdtemp(dir=shared_tmp))
    folder.chmod(0o755)
    script = folder / "bwrap"
    script.write_text(
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    sandbox_host._rootless_problem.cache_clear()
    yield folder
    sandbox_host._rootless_problem.cache_clear()


def test_rootless_unavailable_says_what_to_enable(fake_bwrap: Path) -> None:
    with pytest.raises(SandboxUnavailableError, match="setting up uid map: Permission denied"):
        sandbox_host.check_available(SandboxMode.ROOTLESS)


@pytest.mark.parametrize(
    ("switch", "value", "line"),
    [
        ("user/max_user_namespaces", "0", "user.max_user_namespaces = 15000"),
        ("kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone = 1"),
        (
            "kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "kernel.apparmor_restrict_unprivileged_userns = 0",
        ),
    ],
)
def test_userns_advice_names_the_sysctl_to_change(
    tmp_path: Path, switch: str, value: str, line: str
) -> None:
    (tmp_path / switch).parent.mkdir(parents=True)
    (tmp_path / switch).write_text(value + "\n")
    message = sandbox_host.userns_advice(1000, "Operation not permitted", proc_sys=tmp_path)
    assert line in message
    assert sandbox_host.SYSCTL_FILE in message
    assert "run the worker as root" in message


def test_userns_advice_without_a_blocking_switch_points_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "max_user_namespaces").write_text("15000\n")
    message = sandbox_host.userns_advice(1000, "Operation not permitted", proc_sys=tmp_path)
    assert "seccomp" in message and "sysctl" not in message


def test_kernel_version_reads_distribution_releases() -> None:
    assert sandbox_host.kernel_version("6.1.0-18-amd64") == (6, 1)
    assert sandbox_host.kernel_version("4.18.0-513.el8.x86_64") == (4, 18)
    assert sandbox_host.kernel_version("5.14.0-362.8.1.el9_3.x86_64") >= (5, 14)
