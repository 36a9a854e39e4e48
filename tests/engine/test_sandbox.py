"""The bubblewrap sandbox on its own: isolation, result pipe, live log and limits, in both
modes (rootless forced on this root process: it drops to the job's uid before bwrap)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
from helpers import wait_for

from server.engine.exceptions import SandboxUnavailableError
from server.engine.sandbox import (
    UID_BASE,
    SandboxLimits,
    SandboxMode,
    SandboxRun,
    SandboxSpec,
    build_command,
    run_sandboxed,
    stop_running,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

EMIT = """
import os
def emit(name, data):
    os.write(int(os.environ["DEBLEND_RESULT_FD"]), f"{name} {len(data)}\\n".encode() + data)
"""


@pytest.fixture(params=[SandboxMode.ROOT, SandboxMode.ROOTLESS])
def mode(request: pytest.FixtureRequest) -> SandboxMode:
    if os.geteuid() != 0:
        from livestack import skip_or_fail

        skip_or_fail(f"the sandbox tests in both modes run as root, not uid {os.geteuid()}")
    return request.param


@pytest.fixture
def tmp_path(shared_tmp: Path) -> Path:
    """A folder the job's uid may traverse: rootless, bwrap itself runs as that uid."""
    folder = Path(tempfile.mkdtemp(dir=shared_tmp))
    folder.chmod(0o755)
    return folder


def python_spec(mode: SandboxMode, program: str, **options: object) -> SandboxSpec:
    limits = {"timeout_seconds": 20, "memory_limit_mb": 1024, "max_processes": 64}
    limits |= {"disk_limit_mb": 20, "output_limit_mb": 1}
    limits.update({k: options.pop(k) for k in list(options) if k in limits})
    return SandboxSpec(
        argv=[sys.executable, "-c", EMIT + program],
        binds=options.pop("binds", []),  # type: ignore[arg-type]
        env={"PATH": "/usr/bin:/bin", "HOME": "/scratch"},
        limits=SandboxLimits(**limits),  # type: ignore[arg-type]
        forbidden=options.pop("forbidden", []),  # type: ignore[arg-type]
        mode=mode,
    )


def run_python(
    mode: SandboxMode, tmp_path: Path, program: str, sink: object = None, **options: object
) -> SandboxRun:
    results = tmp_path / "results"
    results.mkdir(exist_ok=True)
    return run_sandboxed(python_spec(mode, program, **options), results, sink)  # type: ignore[arg-type]


def test_run_sandboxed_returns_files_and_output(mode: SandboxMode, tmp_path: Path) -> None:
    run = run_python(mode, tmp_path, "print('hello'); emit('a.txt', b'xyz')")
    assert run.returncode == 0
    assert "hello" in run.log_tail
    assert run.result_files == ["a.txt"]
    assert (tmp_path / "results" / "a.txt").read_bytes() == b"xyz"


def test_run_sandboxed_runs_as_unprivileged_uid_without_capabilities(
    mode: SandboxMode, tmp_path: Path
) -> None:
    program = "import os; print(os.getuid(), open('/proc/self/status').read())"
    run = run_python(mode, tmp_path, program)
    uid = int(run.log_tail.split()[0])
    assert uid >= UID_BASE
    assert "CapEff:\t0000000000000000" in run.log_tail
    assert "CapBnd:\t0000000000000000" in run.log_tail


def test_run_sandboxed_environment_holds_no_host_secret(
    mode: SandboxMode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEBLEND_SECRET_KEY", "hunter2")
    run = run_python(mode, tmp_path, "import os; print(sorted(os.environ))")
    assert "DEBLEND_SECRET_KEY" not in run.log_tail
    assert "HOME" in run.log_tail


def test_run_sandboxed_has_only_loopback(mode: SandboxMode, tmp_path: Path) -> None:
    program = (
        "import socket\n"
        "print(sorted(name for _, name in socket.if_nameindex()))\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
        "    print('CONNECTED')\n"
        "except OSError as exc:\n"
        "    print('refused', exc)\n"
    )
    run = run_python(mode, tmp_path, program)
    assert "['lo']" in run.log_tail
    assert "refused" in run.log_tail and "CONNECTED" not in run.log_tail


def test_run_sandboxed_hides_forbidden_folder_under_a_bind(
    mode: SandboxMode, tmp_path: Path
) -> None:
    (tmp_path / "set" / "labels").mkdir(parents=True)
    (tmp_path / "set" / "labels" / "truth.fits").write_text("secret")
    (tmp_path / "set" / "inputs.txt").write_text("public")
    program = "import os; print(open('/data/inputs.txt').read(), os.listdir('/data/labels'))"
    run = run_python(
        mode,
        tmp_path,
        program,
        binds=[(tmp_path / "set", "/data")],
        forbidden=[tmp_path / "set" / "labels"],
    )
    assert "public []" in run.log_tail


def test_run_sandboxed_cannot_see_unbound_host_paths(mode: SandboxMode, tmp_path: Path) -> None:
    (tmp_path / "private.txt").write_text("secret")
    program = f"import os; print(os.path.exists({str(tmp_path / 'private.txt')!r}))"
    run = run_python(mode, tmp_path, program)
    assert run.log_tail.strip() == "False"


def test_run_sandboxed_streams_log_while_running(mode: SandboxMode, tmp_path: Path) -> None:
    chunks: list[tuple[float, str]] = []
    program = "import time; print('first', flush=True); time.sleep(1.5); print('second')"
    started = time.monotonic()
    run = run_python(mode, tmp_path, program, lambda text: chunks.append((time.monotonic(), text)))
    assert "first" in chunks[0][1]
    # The first line reached the sink while the program was still sleeping.
    assert chunks[0][0] - started < run.wall_seconds - 0.5
    assert "second" in "".join(text for _, text in chunks)


def test_run_sandboxed_keeps_only_the_last_64_kb_of_output(
    mode: SandboxMode, tmp_path: Path
) -> None:
    program = "import sys\nfor i in range(20000): print(f'line {i:06d}' + 'x' * 90)"
    chunks: list[str] = []
    run = run_python(mode, tmp_path, program, chunks.append)
    assert run.returncode == 0
    assert len(run.log_tail) <= 64 * 1024
    assert run.log_tail.rstrip().endswith("line 019999" + "x" * 90)
    assert sum(map(len, chunks)) < 2 * 1024 * 1024


def test_run_sandboxed_caps_returned_files(mode: SandboxMode, tmp_path: Path) -> None:
    run = run_python(mode, tmp_path, "emit('big.npy', b'0' * 2_000_000)", output_limit_mb=1)
    assert run.result_error == "results larger than 1 MB"
    assert not (tmp_path / "results" / "big.npy").exists()


def test_run_sandboxed_refuses_result_names_with_paths(mode: SandboxMode, tmp_path: Path) -> None:
    run = run_python(mode, tmp_path, "emit('../escape.txt', b'abc')")
    assert run.result_error is not None and "malformed" in run.result_error
    assert not (tmp_path / "escape.txt").exists()


def test_run_sandboxed_kills_at_the_timeout(mode: SandboxMode, tmp_path: Path) -> None:
    run = run_python(mode, tmp_path, "import time; time.sleep(60)", timeout_seconds=1)
    assert run.timed_out
    assert run.wall_seconds < 5


def test_run_sandboxed_kills_above_the_memory_limit(mode: SandboxMode, tmp_path: Path) -> None:
    program = "import time; block = bytearray(400 * 2**20); time.sleep(30)"
    run = run_python(mode, tmp_path, program, memory_limit_mb=200)
    assert run.out_of_memory
    assert run.peak_memory_mb > 200
    assert run.wall_seconds < 10


def test_build_command_drops_to_the_given_uid_with_limits() -> None:
    limits = SandboxLimits(10, 100, 32, 5, 1)
    command = build_command(SandboxSpec(["true"], [], {}, limits), result_fd=9, uid=212345)
    assert command[:2] == ["prlimit", "--nproc=32"]
    assert "--unshare-net" in command and "--die-with-parent" in command
    assert "--unshare-user" not in command
    assert command[command.index("--tmpfs") - 1] == str(5 * 2**20)
    assert "--reuid=212345" in command
    assert command[-1] == "true"


def test_build_command_rootless_limits_processes_inside_the_user_namespace() -> None:
    limits = SandboxLimits(10, 100, 32, 5, 1)
    spec = SandboxSpec(["true"], [], {}, limits)
    command = build_command(spec, result_fd=9, uid=212345, mode=SandboxMode.ROOTLESS)
    bwrap = command.index("bwrap")
    assert command[bwrap + 1 : bwrap + 4] == ["--unshare-user", "--uid", "212345"]
    assert "--unshare-net" in command and "--die-with-parent" in command
    # The process limit is set inside, after bwrap has made the namespace that counts it.
    assert "--nproc=32" not in command[:bwrap]
    assert command[-4:] == ["prlimit", "--nproc=32", "--", "true"]
    assert "CAP_SETUID" not in command


class SleepingSandbox:
    """A sandboxed program that sleeps, run on a thread of its own so that it can be stopped."""

    def __init__(self, mode: SandboxMode, tmp_path: Path) -> None:
        spec = python_spec(mode, "print('up', flush=True); import time; time.sleep(60)")
        results = tmp_path / "results"
        results.mkdir()
        self._me = psutil.Process()
        # Earlier tests of the session may have left processes of their own (a Dask cluster):
        # only those this sandbox starts are counted.
        self._before = set(self._me.children(recursive=True))
        self._outcome: list[object] = []
        self._thread = threading.Thread(target=self._run, args=(spec, results))
        self._thread.start()
        wait_for(lambda: len(self.processes()) >= 3, timeout=30, what="the sandbox up")

    def _run(self, spec: SandboxSpec, results: Path) -> None:
        try:
            self._outcome.append(run_sandboxed(spec, results, lambda _: None))
        except SandboxUnavailableError as exc:
            self._outcome.append(exc)

    def processes(self) -> set[psutil.Process]:
        """The live processes this sandbox started."""
        return set(self._me.children(recursive=True)) - self._before

    def outcome(self, timeout: float) -> object:
        """What ``run_sandboxed`` returned or raised, once its thread has ended."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the sandbox still runs {timeout:.0f} s after"
        [outcome] = self._outcome
        return outcome


def test_run_sandboxed_stopped_from_outside_is_the_platforms_fault(
    mode: SandboxMode, tmp_path: Path
) -> None:
    # What a cancelled Slurm job or a stopped service does: SIGTERM to every process.
    sandbox = SleepingSandbox(mode, tmp_path)
    for process in sandbox.processes():
        with contextlib.suppress(ProcessLookupError):  # gone with bwrap already
            os.kill(process.pid, signal.SIGTERM)
    error = sandbox.outcome(30)
    assert isinstance(error, SandboxUnavailableError)
    assert "stopped from outside by SIGTERM" in str(error)


def test_run_sandboxed_stopped_by_its_closing_worker_is_the_platforms_fault(
    mode: SandboxMode, tmp_path: Path
) -> None:
    sandbox = SleepingSandbox(mode, tmp_path)
    assert stop_running("the worker tcp://10.0.0.1:1234 is closing") == 1
    error = sandbox.outcome(10)
    assert isinstance(error, SandboxUnavailableError)
    assert str(error).startswith("the worker tcp://10.0.0.1:1234 is closing")
    assert sandbox.processes() == set()
