"""Run one command in a bubblewrap sandbox under time, memory, process and disk limits.

Root mode (the worker is root): bwrap starts without a user namespace, so that it can bind any
host path read-only, then ``setpriv`` drops the sandboxed program to an unprivileged host uid
with no capabilities: unlike root (even a namespaced one, whose host uid is still 0), that uid is
bound by RLIMIT_NPROC and cannot signal the worker.

Rootless mode (the worker is an ordinary user, ``sandbox_host.py``): bwrap unshares a user
namespace too, maps the worker's uid to an unprivileged uid inside, and ``prlimit`` sets
RLIMIT_NPROC inside it, where the kernel counts the job's tasks alone. The worker's processes
share its host uid but live outside the pid namespace: the job can neither see nor signal them.

In both, every other namespace is unshared (network: loopback only); the only writable places
are size-capped tmpfs (/tmp = /scratch, /dev/shm); files come back through a pipe (fd
``$DEBLEND_RESULT_FD``: frames ``b"<name> <size>\\n"`` + bytes), size-capped. The student's
processes die with the worker (``--die-with-parent``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from server.engine.exceptions import SandboxUnavailableError
from server.engine.sandbox_host import (
    SandboxMode,
    bind_problems,
    bwrap_disables_userns,
    check_available,
    drop_to,
)
from server.engine.streams import LogCapture, ResultCollector

RESULT_FD_ENV = "DEBLEND_RESULT_FD"
SCRATCH = "/scratch"  # HOME and working folder inside; a link to the capped /tmp
SHM_MB = 64
# Host uids handed to sandboxes: one per job, so RLIMIT_NPROC counts that job's tasks only.
UID_BASE = 200_000
_uid_counter = itertools.count()
# The runs of this process, each with the reasons it was asked to stop (stop_running).
_stops: dict[int, list[str]] = {}
_stops_lock = threading.Lock()
# Sandboxes started ahead of their job (start_sandbox), not yet run.
_waiting: set[StartedSandbox] = set()
POLL_SECONDS = 0.1
LOG_FLUSH_SECONDS = 0.5
GPU_POLL_SECONDS = 1.0
# A kernel OOM kill shows as SIGKILL; near the limit we call it out of memory, not a crash.
KERNEL_OOM_FRACTION = 0.8


@dataclass(frozen=True)
class SandboxLimits:
    timeout_seconds: float
    memory_limit_mb: int
    max_processes: int  # tasks (processes and threads) of the job
    disk_limit_mb: int  # size of the /scratch tmpfs
    output_limit_mb: int  # total size of the files sent back


@dataclass(frozen=True)
class SandboxSpec:
    argv: list[str]  # the program to run inside
    binds: list[tuple[Path, str]]  # read-only (host path, sandbox path), besides the system
    env: dict[str, str]  # the whole environment inside, nothing else leaks in
    limits: SandboxLimits
    forbidden: list[Path] = field(default_factory=list)  # host paths never to be visible
    use_gpu: bool = False
    mode: SandboxMode | None = None  # None: $DEBLEND_SANDBOX_MODE, else by the worker's uid


@dataclass
class SandboxRun:
    returncode: int | None
    timed_out: bool
    out_of_memory: bool
    wall_seconds: float
    peak_memory_mb: float
    peak_gpu_memory_mb: float | None
    log_tail: str
    result_files: list[str]
    result_error: str | None  # the returned files broke the protocol or the size cap


def system_binds(made: set[str]) -> list[str]:
    """bwrap arguments for the read-only system: /usr, the loader and Python."""
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    # The interpreter and the venv; the kit comes with the job's own binds.
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    for root in sorted(roots):
        if not any(root.startswith(other + os.sep) for other in roots):
            args += _parents(root, made) + ["--ro-bind", root, root]
    return args


def _parents(path: str, made: set[str]) -> list[str]:
    """Create the ancestors of a mount point world-traversable (bwrap makes /root 0700)."""
    args: list[str] = []
    for parent in map(str, reversed(Path(path).parents[:-1])):
        if parent not in made and parent != "/tmp":  # /tmp: the scratch tmpfs, already there
            args += ["--perms", "0755", "--dir", parent]
            made.add(parent)
    return args


def build_command(
    spec: SandboxSpec, result_fd: int, uid: int, mode: SandboxMode = SandboxMode.ROOT
) -> list[str]:
    """The full command line. Root mode: prlimit, bwrap, setpriv to ``uid``, ``spec.argv``.
    Rootless: bwrap with a user namespace (``uid`` inside), prlimit inside, ``spec.argv``."""
    limits = spec.limits
    nproc = f"--nproc={limits.max_processes}"
    if mode is SandboxMode.ROOT:
        args = ["prlimit", nproc, "--core=0", "--", "bwrap"]
    else:
        # Not before bwrap: a limit set outside counts every task of the worker's uid.
        args = [*drop_to(uid), "prlimit", "--core=0", "--", "bwrap", "--unshare-user"]
        args += ["--uid", str(uid), "--gid", str(uid)]
        if bwrap_disables_userns():
            args += ["--disable-userns"]  # no nested namespaces: less kernel within reach
    args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if mode is SandboxMode.ROOT:
        # setpriv needs these to switch uid; it drops them (and the bounding set) before exec.
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
            args += ["--cap-add", cap]
    # The capped tmpfs is /tmp itself (/scratch links to it), mounted first: a system path under
    # /tmp (a checkout in /tmp) is then bound inside it instead of clashing with it.
    args += ["--perms", "1777", "--size", str(limits.disk_limit_mb * 2**20), "--tmpfs", "/tmp"]
    args += ["--symlink", "/tmp", SCRATCH]
    made: set[str] = set()  # folders already created inside
    args += system_binds(made)
    args += ["--proc", "/proc", "--dev", "/dev"]
    # POSIX semaphores of multiprocessing need a writable /dev/shm: small, and capped too.
    args += ["--perms", "1777", "--size", str(SHM_MB * 2**20), "--tmpfs", "/dev/shm"]
    if spec.use_gpu:
        for device in sorted(Path("/dev").glob("nvidia*")):
            args += ["--dev-bind", str(device), str(device)]
    for source, dest in spec.binds:
        args += _parents(dest, made) + ["--ro-bind", str(source), dest]
    # Hide a forbidden folder that happens to sit under a bound one (hidden labels in the tree).
    for bound in _bound_sources(args):
        for secret in spec.forbidden:
            rel = os.path.relpath(os.path.realpath(secret), bound[0])
            if not rel.startswith(".."):
                args += ["--tmpfs", os.path.normpath(os.path.join(bound[1], rel))]
    args += ["--clearenv"]
    for key, value in {**spec.env, RESULT_FD_ENV: str(result_fd)}.items():
        args += ["--setenv", key, value]
    args += ["--chdir", SCRATCH, "--"]
    if mode is SandboxMode.ROOTLESS:
        return args + ["prlimit", nproc, "--"] + spec.argv
    args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    args += ["--inh-caps=-all", "--bounding-set=-all", "--"]
    return args + spec.argv


def _bound_sources(args: list[str]) -> list[tuple[str, str]]:
    return [
        (os.path.realpath(args[i + 1]), args[i + 2])
        for i, arg in enumerate(args)
        if arg == "--ro-bind"
    ]


def uid_range(pid: int | None = None) -> range:
    """The 64 host uids of the jobs of one worker process (this one by default)."""
    start = UID_BASE + ((os.getpid() if pid is None else pid) % 1000) * 64
    return range(start, start + 64)


def next_uid() -> int:
    """A host uid no other job of this machine uses at the same time."""
    return uid_range()[next(_uid_counter) % 64]


def stop_running(reason: str) -> int:
    """Stop every sandbox this process runs, at once (its worker is closing): each of their
    :func:`run_sandboxed` calls raises :class:`SandboxUnavailableError` with ``reason``.
    Sandboxes started for jobs not yet come are discarded. Returns how many were running."""
    with _stops_lock:
        for reasons in _stops.values():
            reasons.append(reason)
        waiting = list(_waiting)
        running = len(_stops)
    for started in waiting:
        started.discard()
    return running


def run_sandboxed(
    spec: SandboxSpec,
    results_dir: Path,
    log_sink: Callable[[str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SandboxRun:
    """Run ``spec`` to its end or its limits; files it returns land in ``results_dir``.

    ``cancelled`` is asked every poll whether the run is still wanted (the scheduler released
    its job): when it says so, the run stops like a closing worker's.

    Raises :class:`SandboxUnavailableError` when no sandbox can start here, or when the sandbox
    was stopped by the worker's shutdown (:func:`stop_running`, or a signal from outside):
    neither is the student's doing.
    """
    return start_sandbox(spec, results_dir).run(log_sink, cancelled)


def start_sandbox(spec: SandboxSpec, results_dir: Path) -> StartedSandbox:
    """Start ``spec``'s program now, its limits counting only from :meth:`StartedSandbox.run`.

    Its stdin carries one line, written by ``run``: a program that reads it first (the job
    entry) does its slow start-up (interpreter, libraries, the kit) while the worker waits for
    the job, then waits for that line before touching the job's files.
    """
    mode = check_available(spec.mode)
    sources = [Path(os.path.realpath(p)) for p in (sys.base_prefix, sys.prefix)]
    problems = bind_problems(sources + [Path(source) for source, _ in spec.binds], mode)
    if problems:
        raise SandboxUnavailableError("; ".join(problems))
    return StartedSandbox(spec, mode, results_dir)


class StartedSandbox:
    """A sandbox whose program runs but whose job has not started: see :func:`start_sandbox`.

    Either :meth:`run` (once) or :meth:`discard` ends it. Until then :func:`stop_running`
    discards it with the worker.
    """

    def __init__(self, spec: SandboxSpec, mode: SandboxMode, results_dir: Path) -> None:
        self.spec = spec
        read_fd, write_fd = os.pipe()
        command = build_command(spec, write_fd, next_uid(), mode)
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                start_new_session=True,  # one process group to kill: bwrap and its monitor
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        except OSError as exc:
            os.close(read_fd)
            raise SandboxUnavailableError(f"could not start bwrap: {exc}") from exc
        finally:
            os.close(write_fd)
        self._log = LogCapture(self._proc.stdout, None)
        limit = spec.limits.output_limit_mb * 2**20
        self._collector = ResultCollector(read_fd, results_dir, limit)
        self._threads = [
            threading.Thread(target=reader.run, daemon=True)
            for reader in (self._log, self._collector)
        ]
        for thread in self._threads:
            thread.start()
        with _stops_lock:
            _waiting.add(self)

    def alive(self) -> bool:
        """Whether its program still runs (a waiting one never ends on its own)."""
        return self._proc.poll() is None

    def discard(self) -> None:
        """End it without running a job."""
        with _stops_lock:
            _waiting.discard(self)
        _kill(self._proc, [])  # lists the tree itself if the program still runs
        for thread in self._threads:
            thread.join(timeout=5)

    def run(
        self,
        log_sink: Callable[[str], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> SandboxRun:
        """Send the start line, then watch the run to its end or its limits."""
        stop: list[str] = []
        with _stops_lock:
            _waiting.discard(self)
            _stops[id(stop)] = stop
        try:
            self._log.sink = log_sink
            try:
                self._proc.stdin.write(b"start\n")
                self._proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass  # it already ended (or never reads stdin): its exit code tells the rest
            return self._watch(stop, cancelled)
        finally:
            with _stops_lock:
                del _stops[id(stop)]

    def _watch(self, stop: list[str], cancelled: Callable[[], bool] | None) -> SandboxRun:
        spec, proc, log = self.spec, self._proc, self._log
        limits = spec.limits
        started = time.monotonic()
        timed_out = out_of_memory = False
        use_gpu = spec.use_gpu and shutil.which("nvidia-smi")
        peak_mb, peak_gpu_mb = 0.0, (0.0 if use_gpu else None)
        last_flush = last_gpu = started
        root = psutil.Process(proc.pid)
        tree: list[psutil.Process] = [root]
        try:
            while True:
                try:
                    proc.wait(timeout=POLL_SECONDS)  # returns at once when the sandbox ends
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                tree = _process_tree(root) or tree
                peak_mb = max(peak_mb, _memory_mb(tree))
                if peak_gpu_mb is not None and now - last_gpu >= GPU_POLL_SECONDS:
                    peak_gpu_mb, last_gpu = max(peak_gpu_mb, _gpu_mb({p.pid for p in tree})), now
                if not stop and cancelled is not None and cancelled():
                    stop.append("the scheduler no longer wants this job (its client is gone)")
                if stop:
                    break
                if now - started > limits.timeout_seconds:
                    timed_out = True
                    break
                if peak_mb > limits.memory_limit_mb:
                    out_of_memory = True
                    break
                if now - last_flush >= LOG_FLUSH_SECONDS:
                    log.flush()
                    last_flush = now
        finally:
            _kill(proc, tree)
        for thread in self._threads:
            thread.join(timeout=5)
        log.flush()
        if stop:
            raise SandboxUnavailableError(f"{stop[0]}: the job goes back to the queue")
        returncode = proc.returncode
        if returncode in (-signal.SIGKILL, 128 + signal.SIGKILL) and not timed_out:
            out_of_memory = out_of_memory or peak_mb > KERNEL_OOM_FRACTION * limits.memory_limit_mb
        if returncode is not None and returncode < 0 and not (timed_out or out_of_memory):
            # bwrap itself was killed, and not by us: the job cannot reach it (another pid
            # namespace; in root mode, another uid), so the worker is being stopped.
            raise SandboxUnavailableError(stopped_message(-returncode))
        return SandboxRun(
            returncode=returncode,
            timed_out=timed_out,
            out_of_memory=out_of_memory,
            wall_seconds=time.monotonic() - started,
            peak_memory_mb=peak_mb,
            peak_gpu_memory_mb=peak_gpu_mb,
            log_tail=log.tail(),
            result_files=self._collector.files,
            result_error=self._collector.error,
        )


def stopped_message(signum: int) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return (
        f"the sandbox was stopped from outside by {name}: the worker is shutting down (its "
        "Slurm job cancelled or at its walltime, its service stopped); the job is not the "
        "student's fault and goes back to the queue"
    )


def _process_tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _memory_mb(tree: list[psutil.Process]) -> float:
    """Proportional set size of the tree: pages shared after fork() count once, unlike RSS."""
    total = 0
    for process in tree:
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            pass  # ended between the listing and the reading
    return total / 2**20


def _gpu_mb(pids: set[int]) -> float:
    query = ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return 0.0
    rows = [line.split(",") for line in out.splitlines() if line.count(",") == 1]
    return float(sum(float(mb) for pid, mb in rows if pid.strip().isdigit() and int(pid) in pids))


def _kill(proc: subprocess.Popen, tree: list[psutil.Process]) -> None:
    """SIGKILL bwrap's group and every process seen; the pid namespace takes the rest."""
    if proc.poll() is None:
        tree = _process_tree(psutil.Process(proc.pid)) or tree
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for process in tree[1:]:
        try:
            process.kill()
        except psutil.Error:
            pass
    proc.wait()
    # The pid namespace dies with its init, asynchronously: return once every process is dead.
    # Zombies count as dead (they hold no memory): reaping them is the host init's job.
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in tree[1:]) and time.monotonic() < deadline:
        time.sleep(0.01)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
