"""Slurm and rootless-sandbox benchmark: latency on the Slurm path, engine overhead per job,
sandbox start-up in both modes.

    sudo .venv/bin/python bench/bench_slurm.py [--runs 3] [--idle 8] [--starts 10]

Needs root (it runs the worker side as the unprivileged test user, as CI does) and a running
Slurm whose default partition takes 1-core jobs (deploy/dask/one-node-slurm.sh). The dispatcher
runs with ``dask_cluster = "slurm"`` as that user, on the iris test kit, with one worker at most
and idle workers released after ``--idle`` seconds. A trivial real submission prints
timestamps: at import, and around its own fit/predict.

- queued -> student code running, with a worker already up, and with none (the worker's Slurm
  job started for it, then the worker connected);
- engine overhead per job: queued -> scored, less the student's own time, per job (a quick
  check and a full job per submission), with a worker up;
- sandbox start-up: ``true`` and ``python -c pass`` in a sandbox, root mode beside rootless
  (forced on root, and as the unprivileged user).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "engine"))

from bench_engine import TRIVIAL_ESTIMATOR, _seconds  # noqa: E402 (this folder, as a script)
from helpers import create_event_db, get  # noqa: E402
from sqlalchemy import select  # noqa: E402

from server.db import make_engine, make_session_factory  # noqa: E402
from server.engine.sandbox import (  # noqa: E402
    SandboxLimits,
    SandboxMode,
    SandboxSpec,
    run_sandboxed,
)
from server.models import Submission, SubmissionFile  # noqa: E402
from server.states import SubmissionState  # noqa: E402
from tests.engine.unprivileged import UserRunner, ensure_user  # noqa: E402
from tests.kits.public_kit import ELEMENT_FILE, write_public_kit  # noqa: E402
from tests.slurm.slurm_helpers import (  # noqa: E402
    DispatcherProcess,
    slurm_settings,
    worker_jobs,
)

_FINAL = [s for s in SubmissionState if s.is_final]


def fail(message: str) -> None:
    raise SystemExit(f"bench_slurm: {message}")


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    fail(f"timed out after {timeout:.0f} s waiting for {what}")


def submit(factory, team_id: int) -> tuple[int, float]:
    with factory() as session:
        sub = Submission(event_id=1, team_id=team_id, name=f"s{time.monotonic_ns()}")
        content = TRIVIAL_ESTIMATOR.encode()
        sub.files.append(SubmissionFile(name=ELEMENT_FILE, content=content, sha256="0"))
        session.add(sub)
        session.commit()
        return sub.id, time.time()


def record(scratch: Path, sid: int, kind: str) -> dict:
    data = json.loads((scratch / f"{sid}-0-{kind}.json").read_text())
    lines = [line.split() for line in data["log"].splitlines() if line.startswith("BENCH ")]
    data["import"] = next(float(w[2]) for w in lines if w[1] == "import")
    data["student"] = sum(float(w[3]) - float(w[2]) for w in lines if w[1] == "student")
    return data


def scored_at(factory, sid: int) -> float:
    with factory() as session:
        sub = session.scalars(select(Submission).where(Submission.id == sid)).one()
        if sub.state is not SubmissionState.SCORED:
            fail(f"submission {sid} ended {sub.state}: {sub.error_summary}")
        return sub.finished_at.timestamp()


def slurm_figures(user, workdir: Path, runs: int, idle: float) -> list[tuple[str, str]]:
    kit, hidden, scratch = workdir / "kit", workdir / "hidden", workdir / "scratch"
    write_public_kit(kit, hidden)
    folders = [scratch, workdir / "slurm-logs", workdir / "dask"]
    for folder in folders:
        folder.mkdir()
    for path in [hidden, *hidden.rglob("*"), *folders]:
        os.chown(path, user.pw_uid, user.pw_gid)
    url = f"sqlite:///{workdir / 'db.sqlite'}"
    paths = {"kit_dir": str(kit), "public_data_dir": str(kit), "hidden_data_dir": str(hidden)}
    create_event_db(url, **paths, timeout_seconds=600)
    os.chown(workdir / "db.sqlite", user.pw_uid, user.pw_gid)
    factory = make_session_factory(make_engine(url))
    settings = slurm_settings(workdir, max_jobs=1, idle_seconds=idle, walltime="00:30:00")
    log = workdir / "dispatcher.log"
    process = DispatcherProcess(user, url, scratch, settings, log, "timed")
    cold, cold_task, warm, warm_task, overheads = [], [], [], [], []
    try:
        for i in range(2 * runs):
            is_cold = i % 2 == 0
            if is_cold:  # no worker up: wait for the idle one to be released
                wait(lambda: not worker_jobs(user.pw_name), idle + 120, "the worker released")
            sid, queued = submit(factory, team_id=1 + i % 2)
            wait(lambda s=sid: get(factory, s).state in _FINAL, 600, "the submission scored")
            check, full = record(scratch, sid, "quick_check"), record(scratch, sid, "full")
            (cold if is_cold else warm).append(check["import"] - queued)
            (cold_task if is_cold else warm_task).append(check["start"] - queued)
            if not is_cold:
                student = check["student"] + full["student"]
                overheads.append((scored_at(factory, sid) - queued - student) / 2)
    finally:
        process.stop()
    return [
        ("queued -> student code, worker up", _seconds(warm)),
        ("    of which queued -> worker task started", _seconds(warm_task)),
        ("queued -> student code, no worker up", _seconds(cold)),
        ("    of which queued -> worker task (Slurm job + worker start)", _seconds(cold_task)),
        ("engine overhead per job, worker up", _seconds(overheads)),
    ]


def start_seconds(mode: SandboxMode, argv: list[str], folder: str, n: int) -> list[float]:
    """Wall seconds of ``n`` sandboxed runs of ``argv`` (set-up, run, tear-down)."""
    limits = SandboxLimits(60, 1024, 64, 10, 1)
    spec = SandboxSpec(argv, [], {"PATH": "/usr/bin:/bin"}, limits, mode=mode)
    times = []
    for _ in range(n):
        run = run_sandboxed(spec, Path(folder))
        if run.returncode != 0:
            raise RuntimeError(f"{argv} failed in the {mode} sandbox: {run.log_tail}")
        times.append(run.wall_seconds)
    return times


def sandbox_figures(user, workdir: Path, n: int) -> list[tuple[str, str]]:
    runner = UserRunner(user, workdir / "sandbox")
    rows = []
    programs = {"true": ["/usr/bin/true"], "python -c pass": [sys.executable, "-c", "pass"]}
    for label, argv in programs.items():
        folder = str(runner.workdir)
        root = start_seconds(SandboxMode.ROOT, argv, folder, n)
        forced = start_seconds(SandboxMode.ROOTLESS, argv, folder, n)
        as_user = runner(start_seconds, SandboxMode.ROOTLESS, argv, folder, n)
        rows.append((f"sandbox start-up, {label}: root mode", _seconds(root)))
        rows.append(("    rootless, forced on a root worker", _seconds(forced)))
        rows.append(("    rootless, unprivileged worker", _seconds(as_user)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="cold and warm submissions each")
    parser.add_argument("--idle", type=float, default=8.0, help="idle seconds before release")
    parser.add_argument("--starts", type=int, default=10, help="sandbox starts per mode")
    args = parser.parse_args()
    if os.geteuid() != 0:
        fail("run as root: the worker side runs as the unprivileged test user")
    if shutil.which("sbatch") is None:
        fail("Slurm is missing: apt-get install slurm-wlm munge; deploy/dask/one-node-slurm.sh")
    user = ensure_user(fail)
    base = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    base.chmod(0o755)
    workdir = base / "work"
    workdir.mkdir()
    os.chown(workdir, user.pw_uid, user.pw_gid)
    load_start = os.getloadavg()
    try:
        rows = sandbox_figures(user, workdir, args.starts)
        rows += slurm_figures(user, workdir, args.runs, args.idle)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    load = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(load_start, os.getloadavg(), strict=True))
    print(f"\n{os.cpu_count()} cores; load average 1/5/15 min, start/end: {load}")
    print(f"{args.runs} cold and {args.runs} warm submissions, idle release {args.idle:g} s\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  result")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
