"""Which sandbox this host can run, and what its operator must change when it can run none.

Two modes give the same guarantees (see ``sandbox.py``):

- **root**: the worker is root; bwrap binds what it needs, then ``setpriv`` drops the job to a
  fresh unprivileged host uid.
- **rootless**: the worker is an ordinary user (a Slurm job, a GPU server without root
  daemons); bwrap creates an unprivileged user namespace per job. The per-job process limit is
  RLIMIT_NPROC set *inside* that namespace: since Linux 5.14 the kernel counts it per user
  namespace (ucounts), so a fork bomb stops at the job's own limit and never uses up the
  worker user's processes.

``DEBLEND_SANDBOX_MODE`` (``root``, ``rootless``, unset: root when the worker is root) forces
one. Rootless forced on a root worker first drops to the job's unprivileged uid, so that the
kernel limits apply as they would to an ordinary user.
"""

from __future__ import annotations

import enum
import functools
import os
import shutil
import subprocess
from pathlib import Path

from server.engine.exceptions import SandboxUnavailableError

MODE_ENV = "DEBLEND_SANDBOX_MODE"
# RLIMIT_NPROC counted per user namespace: "ucounts: Move RLIMIT_NPROC into ucounts" (5.14).
ROOTLESS_MIN_KERNEL = (5, 14)
SYSCTL_FILE = "/etc/sysctl.d/90-deblend-userns.conf"
TRIAL_TIMEOUT_SECONDS = 10
SANDBOX_TRIAL_UID = 65534  # nobody: a root worker's trial of the rootless mode drops to it
# (file under /proc/sys, value that blocks user namespaces, sysctl line that allows them)
USERNS_SWITCHES = (
    ("user/max_user_namespaces", "0", "user.max_user_namespaces = 15000"),
    ("kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone = 1"),
    (
        "kernel/apparmor_restrict_unprivileged_userns",
        "1",
        "kernel.apparmor_restrict_unprivileged_userns = 0",
    ),
)


class SandboxMode(enum.StrEnum):
    ROOT = "root"
    ROOTLESS = "rootless"


def wanted_mode(requested: SandboxMode | str | None = None) -> SandboxMode:
    """``requested``, else ``$DEBLEND_SANDBOX_MODE``, else root for a root worker."""
    value = requested or os.environ.get(MODE_ENV) or ""
    if not value or value == "auto":
        return SandboxMode.ROOT if os.geteuid() == 0 else SandboxMode.ROOTLESS
    try:
        return SandboxMode(value)
    except ValueError:
        raise SandboxUnavailableError(
            f"{MODE_ENV}={value!r}: expected root, rootless or auto (or leave it unset)"
        ) from None


def check_available(requested: SandboxMode | str | None = None) -> SandboxMode:
    """The mode jobs will run in; :class:`SandboxUnavailableError` says what to fix if none."""
    mode = wanted_mode(requested)
    tools = ["bwrap", "prlimit"] + (["setpriv"] if os.geteuid() == 0 else [])
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailableError(
            f"missing {', '.join(missing)}: install bubblewrap and util-linux on the worker"
        )
    if mode is SandboxMode.ROOT and os.geteuid() != 0:
        raise SandboxUnavailableError(
            f"{MODE_ENV}=root but the worker runs as uid {os.geteuid()}: root mode drops each "
            "job to a fresh uid, which needs root; unset it to use the rootless sandbox"
        )
    if mode is SandboxMode.ROOTLESS:
        problem = _rootless_problem(os.geteuid())
        if problem:
            raise SandboxUnavailableError(problem)
    return mode


def drop_to(uid: int) -> list[str]:
    """The command prefix that drops a root worker to ``uid`` before bwrap (forced rootless)."""
    if os.geteuid() != 0:
        return []
    return [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--",
    ]  # fmt: skip


@functools.cache
def bwrap_disables_userns() -> bool:
    """bwrap >= 0.8 can forbid user namespaces inside the sandbox (``--disable-userns``)."""
    try:
        out = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--disable-userns" in out.stdout + out.stderr


@functools.cache
def _rootless_problem(euid: int) -> str | None:
    """Why rootless sandboxes cannot start here (None: they can); tried once per process."""
    release = os.uname().release
    if kernel_version(release) < ROOTLESS_MIN_KERNEL:
        need = ".".join(map(str, ROOTLESS_MIN_KERNEL))
        return (
            f"the rootless sandbox needs Linux >= {need} (the per-job process limit is counted "
            f"per user namespace from 5.14 on), this host runs {release}: upgrade the kernel or "
            "run the worker as root"
        )
    trial = [*drop_to(SANDBOX_TRIAL_UID), "bwrap", "--unshare-user", "--ro-bind", "/", "/"]
    try:
        done = subprocess.run(
            [*trial, "true"], capture_output=True, text=True, timeout=TRIAL_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.SubprocessError) as exc:
        error = str(exc)
    else:
        if done.returncode == 0:
            return None
        error = done.stderr.strip() or f"exit code {done.returncode}"
    return userns_advice(euid, error)


def userns_advice(euid: int, error: str, proc_sys: Path = Path("/proc/sys")) -> str:
    """The message for a host without unprivileged user namespaces: what to enable, exactly."""
    lines = []
    for name, blocking, line in USERNS_SWITCHES:
        path = proc_sys / name
        try:
            if path.read_text().strip() == blocking:
                lines.append(line)
        except OSError:
            continue  # this kernel has no such switch
    if lines:
        fix = (
            "as root on this host, put these lines in "
            f"{SYSCTL_FILE} and run `sysctl --system`: " + "; ".join(lines)
        )
    else:
        fix = (
            "the kernel switches allow them, so something else forbids them (a container's "
            "seccomp profile, an SELinux or AppArmor policy, a setuid bwrap): allow "
            "`bwrap --unshare-user` for this user"
        )
    return (
        f"the worker runs as uid {euid}, not root, so the sandbox needs unprivileged user "
        f"namespaces, and `bwrap --unshare-user` failed ({error}): {fix}; or run the worker "
        "as root (root mode)"
    )


def kernel_version(release: str) -> tuple[int, int]:
    """(major, minor) of a kernel release string such as ``6.1.0-18-amd64``."""
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def bind_problems(sources: list[Path], mode: SandboxMode) -> list[str]:
    """Why bwrap could not bind each of ``sources`` in ``mode`` (empty: it can).

    Root mode binds as root, so only rootless needs this: bwrap runs as the worker's user (or,
    forced on a root worker, as the job's uid), which must reach and read each source itself.
    """
    if mode is SandboxMode.ROOT:
        return []
    problems = []
    for source in sources:
        if not source.exists():
            problems.append(f"{source} is missing on this worker: deploy it at that path")
        elif os.geteuid() != 0:
            wanted = os.R_OK | (os.X_OK if source.is_dir() else 0)
            if not os.access(source, wanted):
                problems.append(
                    f"{source} is not readable by uid {os.geteuid()}, the worker's user: "
                    "give it read access (chown, chmod or a group)"
                )
        else:
            blocked = [p for p in source.parents if p.is_dir() and not p.stat().st_mode & 0o001]
            if blocked or not source.stat().st_mode & 0o004:
                problems.append(
                    f"{source} is not readable by other users, and the forced rootless sandbox "
                    f"runs as one: `chmod o+rX {source}` and o+x on its parents"
                )
    return problems
