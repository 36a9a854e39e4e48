"""Worker-side code run by an unprivileged user: how tests run as root exercise a worker that
is not (the rootless sandbox, Slurm jobs).

:class:`UserRunner` calls a function in a fresh Python process of the test user (through
``runuser``) and returns its value or raises its exception; the call travels pickled
(cloudpickle: importable functions by reference, local ones by value). The user is
``$DEBLEND_TEST_USER`` (default ``deblend-test``), created here when missing (CI's .ci/run
creates it too). It must reach this checkout and the venv's Python: every folder above them
needs o+x (a checkout under /root, 0700, does not qualify until ``chmod o+x /root``).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pickle
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
import psutil

from server.engine.job import JobSpec

REPO = Path(__file__).resolve().parents[2]
TEST_USER_ENV = "DEBLEND_TEST_USER"
DEFAULT_TEST_USER = "deblend-test"
CALL_TIMEOUT_SECONDS = 300
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from tests.engine.unprivileged import child_main; child_main(sys.argv[2], sys.argv[3])"
)


def ensure_user(skip_or_fail: Callable[[str], None]) -> pwd.struct_passwd:
    """The unprivileged test user, created when missing and this process is root."""
    name = os.environ.get(TEST_USER_ENV, DEFAULT_TEST_USER)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        skip_or_fail(f"no user {name!r}: create it (useradd --create-home {name}) or set "
                     f"{TEST_USER_ENV} to an existing unprivileged user")  # fmt: skip
    if shutil.which("useradd") is None:
        skip_or_fail("useradd is missing: install passwd")
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    return pwd.getpwnam(name)


def blocked_parent(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot traverse, if any."""
    for folder in [*reversed(Path(path).parents), Path(path)]:
        try:
            if folder.is_dir() and not folder.stat().st_mode & 0o001:
                return folder
        except OSError:
            return folder
    return None


def user_can_run_python(user: pwd.struct_passwd) -> str | None:
    """None when ``user`` can run this venv's Python and import the engine; else why not."""
    command = ["runuser", "-u", user.pw_name, "--", sys.executable, "-c"]
    command += [f"import sys; sys.path.insert(0, {str(REPO)!r}); import server.engine.sandbox"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd="/")
    if done.returncode == 0:
        return None
    reasons = []
    for path in (Path(os.path.realpath(sys.executable)), Path(sys.executable), REPO):
        folder = blocked_parent(path)
        if folder is not None:
            reasons.append(f"{folder} (on the way to {path}) is not o+x: chmod o+x {folder}")
    detail = "; ".join(reasons) or done.stderr.strip()[-500:]
    return f"the user {user.pw_name} cannot run {sys.executable} from {REPO}: {detail}"


class UserRunner:
    """Calls functions as ``user``; ``workdir`` (created, owned by the user) holds the calls."""

    def __init__(self, user: pwd.struct_passwd, workdir: Path) -> None:
        self.user = user
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chown(self.workdir, user.pw_uid, user.pw_gid)
        self._numbers = itertools.count()

    def env(self) -> dict[str, str]:
        """This environment, with the user's home and without a forced sandbox mode."""
        env = {k: v for k, v in os.environ.items() if k != "DEBLEND_SANDBOX_MODE"}
        env |= {"HOME": self.user.pw_dir, "USER": self.user.pw_name}
        return env

    def start(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Call:
        """Start ``function(*args, **kwargs)`` as the user; :meth:`Call.result` waits for it."""
        number = next(self._numbers)
        call_path = self.workdir / f"call-{number}.pkl"
        out_path = self.workdir / f"result-{number}.pkl"
        paths = [p for p in sys.path if p and p.startswith(str(REPO))]
        # The import paths first, apart: unpickling the call may import the test's module.
        call = cloudpickle.dumps((function, args, kwargs))
        call_path.write_bytes(pickle.dumps((paths, call)))
        os.chown(call_path, self.user.pw_uid, self.user.pw_gid)
        command = [sys.executable, "-c", _CHILD, str(REPO), str(call_path), str(out_path)]
        if os.geteuid() != self.user.pw_uid:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return Call(process, out_path)

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` run as the user: its value, or its exception raised."""
        return self.start(function, *args, **kwargs).result()


class Call:
    """A function call running as another user."""

    def __init__(self, process: subprocess.Popen, out_path: Path) -> None:
        self.process = process
        self.out_path = out_path

    def python(self) -> psutil.Process:
        """The user's Python process (under ``runuser`` when the tests run as root)."""
        process = psutil.Process(self.process.pid)
        if process.uids().real == 0:
            children = process.children()
            if not children:
                raise AssertionError("the call's Python process is not running")
            return children[0]
        return process

    def result(self, timeout: float = CALL_TIMEOUT_SECONDS) -> Any:
        output, _ = self.process.communicate(timeout=timeout)
        if not self.out_path.exists():
            text = output.decode(errors="replace")[-3000:]
            raise AssertionError(f"the call exited with {self.process.returncode}: {text}")
        status, value = pickle.loads(self.out_path.read_bytes())
        if status == "error":
            raise value
        return value


def child_main(call_path: str, out_path: str) -> None:
    """Entry point of the user's process: run the pickled call, pickle what it gave."""
    paths, call = pickle.loads(Path(call_path).read_bytes())
    sys.path[:0] = [p for p in paths if p not in sys.path]
    function, args, kwargs = pickle.loads(call)
    try:
        outcome: tuple[str, Any] = ("ok", function(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - handed back to the caller, who raises it
        outcome = ("error", exc)
    try:
        payload = cloudpickle.dumps(outcome)
    except Exception as exc:  # noqa: BLE001 - an unpicklable value or exception
        payload = cloudpickle.dumps(("error", AssertionError(f"unpicklable outcome: {exc!r}")))
    Path(out_path).write_bytes(payload)


def processes_of(uid: int) -> list[psutil.Process]:
    """Live (not zombie) processes whose real uid is ``uid``."""
    found = []
    for process in psutil.process_iter(["uids", "status"]):
        uids, status = process.info["uids"], process.info["status"]
        if uids is not None and uids.real == uid and status != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def for_user(spec: JobSpec, kit_dirs: tuple[Path, Path], user_dirs: tuple[Path, Path]) -> JobSpec:
    """``spec`` with its kit and hidden-set paths moved to the user's copies."""
    moves = [(str(old), str(new)) for old, new in zip(kit_dirs, user_dirs, strict=True)]
    changes = {}
    for name, value in vars(spec).items():
        for old, new in moves:
            if isinstance(value, str) and (value == old or value.startswith(old + os.sep)):
                changes[name] = new + value[len(old) :]
    return dataclasses.replace(spec, **changes)
