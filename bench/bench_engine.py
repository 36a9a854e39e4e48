"""Engine benchmark: latency, overhead, worker utilisation and dispatcher memory, per kit.

    .venv/bin/python bench/bench_engine.py [--kits deblending morphology] [--workers 4]
                                           [--real 40] [--tiny 200] [--memory-jobs 1000]

Runs the real dispatcher on a LocalCluster. For each kit, latency, overhead and the first
utilisation run use the real worker (``run_job_task``: bubblewrap sandbox, ramp-workflow's loop,
scoring outside) on small data made by the kit's own generator, and a trivial submission that
prints timestamps: at import, and around its own fit/predict. The second utilisation run and the
memory run use a stand-in job (it sleeps for the "student" time), so that their numbers are the
engine's own: queueing, Dask, database. Every job records when it ran in the scratch folder.

Targets: queued -> student code < 1 s; engine overhead per job < 3 s; workers busy > 90 %;
dispatcher RSS flat.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlalchemy import func, select

from server.db import Base, make_engine, make_session_factory
from server.engine.cluster import Connection, local_cluster
from server.engine.dispatcher import Dispatcher
from server.kit import kit_info
from server.models import Event, Submission, SubmissionFile, Team
from server.states import SubmissionState

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.engine.helpers import DaskProcesses  # noqa: E402 (real scheduler and workers)

# The trivial deblender: the whole blend as the central galaxy, nothing for the companion.
TRIVIAL_DEBLENDER = """\
import time

print(f"BENCH import {time.time():.6f}", flush=True)

import numpy as np


class Deblender:
    def fit(self, blends, truth):
        start = time.time()
        print(f"BENCH student {start:.6f} {time.time():.6f}", flush=True)
        return self

    def predict(self, blends):
        start = time.time()
        images = np.zeros((*np.shape(blends), 2), dtype=np.float32)
        images[..., 0] = blends
        print(f"BENCH student {start:.6f} {time.time():.6f}", flush=True)
        return images
"""
# The trivial classifier: class priors.
TRIVIAL_ESTIMATOR = """\
import time

print(f"BENCH import {time.time():.6f}", flush=True)

from sklearn.dummy import DummyClassifier


class Timed(DummyClassifier):
    def fit(self, X, y):
        start = time.time()
        fitted = super().fit(X, y)
        print(f"BENCH student {start:.6f} {time.time():.6f}", flush=True)
        return fitted

    def predict_proba(self, X):
        start = time.time()
        proba = super().predict_proba(X)
        print(f"BENCH student {start:.6f} {time.time():.6f}", flush=True)
        return proba


def get_estimator():
    return Timed(strategy="prior")
"""


# The generators read a hidden set's seed from the environment only.
SEED_VARIABLE = "BENCH_HIDDEN_SEED"


@dataclass(frozen=True)
class BenchKit:
    """A kit of the repository, how to make small data for it, and its trivial submission."""

    kit: Path
    public_command: list[str]
    hidden_command: list[str]
    source: str

    @property
    def element_file(self) -> str:
        return kit_info(self.kit).element_files[0]


KITS = {
    "deblending": BenchKit(
        ROOT / "ramp_kit",
        ["-m", "ramp_kit.data", "--n-train", "16", "--n-test", "8", "--jobs", "1", "--quiet"],
        ["-m", "ramp_kit.data", "--hidden", "8", "--seed-env", SEED_VARIABLE, "--quiet"],
        TRIVIAL_DEBLENDER,
    ),
    "morphology": BenchKit(
        ROOT / "kits" / "morphology",
        ["kits/morphology/prepare_data.py", "--n-train", "200", "--n-test", "50"],
        ["kits/morphology/prepare_data.py", "--hidden", "100", "--seed-env", SEED_VARIABLE],
        TRIVIAL_ESTIMATOR,
    ),
}


def _make_real_job():
    # A local function: shipped to the workers by value (cloudpickle). It wraps the dispatcher's
    # default job function and records when the task ran and what the student printed.
    def real_job(spec, scratch_root, topic):
        from server.engine.tasks import run_job_task

        start = time.time()
        result = run_job_task(spec, scratch_root, topic)
        record = {"start": start, "end": time.time(), "log": result.log_tail}
        record["outcome"] = str(result.outcome)
        key = f"{spec.submission_id}-{spec.attempt}-{spec.kind}"
        (Path(scratch_root) / f"{key}.json").write_text(json.dumps(record))
        return result

    return real_job


def _make_standin_job():
    def standin_job(spec, scratch_root, topic):
        from server.engine.job import JobOutcome, JobResult

        start = time.time()
        time.sleep(json.loads(next(iter(spec.files.values())))["sleep"])
        end = time.time()
        record = {"start": start, "end": end, "log": f"BENCH student {start} {end}\n"}
        record["outcome"] = "succeeded"
        key = f"{spec.submission_id}-{spec.attempt}-{spec.kind}"
        (Path(scratch_root) / f"{key}.json").write_text(json.dumps(record))
        return JobResult(
            spec.submission_id,
            spec.attempt,
            spec.kind,
            JobOutcome.SUCCEEDED,
            wall_seconds=end - start,
        )

    return standin_job


def make_data(root: Path, bench_kit: BenchKit) -> tuple[Path, Path]:
    """Small public and hidden data, by the kit's own generator; the public data readable by
    the sandbox's unprivileged uid."""
    public, hidden = root / "public", root / "hidden"
    for folder, command in (
        (public, bench_kit.public_command),
        (hidden, bench_kit.hidden_command),
    ):
        argv = [sys.executable, *command, "--out", str(folder)]
        env = {**os.environ, SEED_VARIABLE: "7"}
        subprocess.run(argv, cwd=ROOT, env=env, check=True)
    for path in [root, *public.rglob("*"), public]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return public, hidden


def setup(root: Path, bench_kit: BenchKit, public: Path, hidden: Path, n_teams: int = 4):
    """A database with one event of the kit (60 s limit) and ``n_teams`` teams."""
    engine = make_engine(f"sqlite:///{root / 'bench.sqlite'}")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        session.add(
            Event(
                name="bench",
                title="Bench",
                kit_dir=str(bench_kit.kit),
                public_data_dir=str(public),
                hidden_data_dir=str(hidden),
                timeout_seconds=60,
                memory_limit_mb=2048,
            )
        )
        session.add_all(Team(event_id=1, name=f"t{i}") for i in range(n_teams))
        session.commit()
    return factory


def add(factory, n: int, source: str, element: str, n_teams: int = 4) -> list[tuple[int, float]]:
    """Queue ``n`` submissions; returns (id, time of the commit that queued it)."""
    out = []
    with factory() as session:
        for i in range(n):
            sub = Submission(event_id=1, team_id=1 + i % n_teams, name=f"s{time.monotonic_ns()}")
            sub.files.append(SubmissionFile(name=element, content=source.encode(), sha256="0"))
            session.add(sub)
            session.commit()
            out.append((sub.id, time.time()))
    return out


def wait_done(factory, timeout: float) -> float:
    """Wait until every submission is final; returns when they were (time.time())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with factory() as session:
            left = session.scalar(select(func.count()).where(Submission.state.not_in(_FINAL)))
        if left == 0:
            return time.time()
        time.sleep(0.02)
    raise RuntimeError(f"{left} submissions not final after {timeout} s")


_FINAL = [s for s in SubmissionState if s.is_final]


def not_scored(factory) -> int:
    with factory() as session:
        query = select(func.count()).where(Submission.state != SubmissionState.SCORED)
        return session.scalar(query)


def record(scratch: Path, sid: int, kind: str) -> dict:
    data = json.loads((scratch / f"{sid}-0-{kind}.json").read_text())
    lines = [line.split() for line in data["log"].splitlines() if line.startswith("BENCH ")]
    data["import"] = next((float(w[2]) for w in lines if w[1] == "import"), None)
    data["student"] = sum(float(w[3]) - float(w[2]) for w in lines if w[1] == "student")
    return data


class Run:
    """A dispatcher of its own event and database, on the shared cluster, on a thread."""

    def __init__(
        self,
        root: Path,
        connection: Connection,
        job: Callable,
        poll: float,
        bench_kit: BenchKit,
        data: tuple[Path, Path],
    ) -> None:
        root.mkdir(parents=True)
        self.root = root
        self.element = bench_kit.element_file
        self.factory = setup(root, bench_kit, *data)
        self.dispatcher = Dispatcher(
            self.factory,
            "bench",
            connection,
            scratch_root=str(root),
            job_function=job,
            poll_seconds=poll,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.dispatcher.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def add(self, n: int, source: str) -> list[tuple[int, float]]:
        return add(self.factory, n, source, self.element)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        self.dispatcher.close()

    def utilisation(self, n: int, source: str, workers: int) -> tuple[float, float]:
        """(wall seconds, % of worker time spent in jobs) for ``n`` submissions at once."""
        subs = self.add(n, source)
        t0 = time.time()
        wall = wait_done(self.factory, 1800) - t0
        busy = 0.0
        for sid, _ in subs:
            for kind in ("quick_check", "full"):
                if (self.root / f"{sid}-0-{kind}.json").exists():
                    job = record(self.root, sid, kind)
                    busy += job["end"] - job["start"]
        return wall, 100 * busy / (workers * wall)


def real_rows(name: str, run: Run, args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(a) latency, (b) overhead, one real submission at a time, then (c) utilisation.

    The first submission of the kit meets no sandbox started for its kind of job (a fresh
    worker, or one that ran another kit): its figures are reported apart. The next
    ``--warmup`` submissions let every worker start one for each kind; then the measured ones.
    """
    source = KITS[name].source
    latencies, to_task, overheads, in_worker = [], [], [], []
    cold: tuple[float, float] | None = None
    for i in range(1 + args.warmup + args.latency_runs):
        # Arrivals at independent times, not in step with the dispatcher's passes.
        time.sleep(args.poll * (i % 5 + 0.5) / 5)
        [(sid, queued)] = run.add(1, source)
        done = wait_done(run.factory, 300)
        check, full = record(run.root, sid, "quick_check"), record(run.root, sid, "full")
        overhead = (done - queued - check["student"] - full["student"]) / 2
        if i == 0:
            cold = (check["import"] - queued, overhead)
        if i <= args.warmup:
            continue
        latencies.append(check["import"] - queued)
        to_task.append(check["start"] - queued)
        overheads.append(overhead)
        for job in (check, full):
            in_worker.append(job["end"] - job["start"] - job["student"])
    if not_scored(run.factory):
        raise RuntimeError(f"the trivial {name} submission was not scored: see {run.root}")
    assert cold is not None
    rows = [
        (f"[{name}] (a) queued -> student code imported", "< 1 s", _seconds(latencies)),
        ("    of which queued -> worker task started", "", _seconds(to_task)),
        (f"[{name}] (b) engine overhead per job, end to end", "< 3 s", _seconds(overheads)),
        ("    of which inside the worker task", "", _seconds(in_worker)),
        (
            f"[{name}] first job of its kind on a worker (no sandbox ready): (a) / (b)",
            "",
            f"{cold[0]:.2f} s / {cold[1]:.2f} s",
        ),
    ]
    if args.real:
        wall, busy = run.utilisation(args.real, source, args.workers)
        label = f"[{name}] (c) busy, {args.real} real submissions, {args.workers} workers"
        rows.append((label, "> 90 %", f"{busy:.1f} % (wall {wall:.0f} s)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kits", nargs="+", choices=sorted(KITS), default=sorted(KITS))
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=4, help="submissions before measuring")
    parser.add_argument("--real", type=int, default=40, help="real submissions, utilisation")
    parser.add_argument("--tiny", type=int, default=200, help="stand-in submissions")
    parser.add_argument("--memory-jobs", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    root.chmod(0o755)
    rows: list[tuple[str, str, str]] = []
    load_start = os.getloadavg()
    data = {name: make_data(root / "data" / name, KITS[name]) for name in args.kits}
    cluster = local_cluster(args.workers)
    runs: list[Run] = []
    dask_processes = None
    first = args.kits[0]
    try:
        for name in args.kits:
            real = Run(
                root / f"real-{name}",
                Connection(cluster=cluster),
                _make_real_job(),
                args.poll,
                KITS[name],
                data[name],
            )
            runs.append(real)
            rows += real_rows(name, real, args)
            real.close()  # a dispatcher records the workers' jobs: only one may watch them
        # (c) Utilisation with stand-in jobs of 0.5 s each: the engine's own share.
        standin = Run(
            root / "standin",
            Connection(cluster=cluster),
            _make_standin_job(),
            args.poll,
            KITS[first],
            data[first],
        )
        runs.append(standin)
        wall, busy = standin.utilisation(args.tiny, json.dumps({"sleep": 0.5}), args.workers)
        label = f"(c) busy, {args.tiny} stand-in submissions (0.5 s jobs)"
        rows.append((label, "> 90 %", f"{busy:.1f} % (wall {wall:.0f} s)"))
        standin.close()
        # (d) Dispatcher memory over many stand-in jobs (two per submission), read after each
        # quarter. The scheduler and workers run in their own processes, as in production, so
        # this process holds the dispatcher alone.
        dask_processes = DaskProcesses(args.workers)
        memory = Run(
            root / "memory",
            Connection(address=dask_processes.address),
            _make_standin_job(),
            args.poll,
            KITS[first],
            data[first],
        )
        runs.append(memory)
        process = psutil.Process()
        rss = [process.memory_info().rss / 2**20]
        t0 = time.time()
        for _ in range(4):
            memory.add(args.memory_jobs // 8, json.dumps({"sleep": 0.0}))
            wait_done(memory.factory, 1800)
            rss.append(process.memory_info().rss / 2**20)
        rows.append(
            (
                f"(d) dispatcher RSS every {args.memory_jobs // 4} of {args.memory_jobs} jobs",
                "flat",
                " -> ".join(f"{value:.0f}" for value in rss) + f" MiB ({time.time() - t0:.0f} s, "
                f"flights left {len(memory.dispatcher.flights)})",
            )
        )
    finally:
        for run in runs:
            if run.thread.is_alive():
                run.close()
        cluster.close()
        if dask_processes is not None:
            dask_processes.close()
    load = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(load_start, os.getloadavg(), strict=True))
    print(f"\n{os.cpu_count()} cores; load average 1/5/15 min, start/end: {load}")
    print(f"poll {args.poll} s, {args.workers} workers\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'target':<7}  result")
    for name, target, value in rows:
        print(f"{name:<{width}}  {target:<7}  {value}")


def _seconds(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"median {statistics.median(values):.2f} s (min {low:.2f}, max {high:.2f})"


if __name__ == "__main__":
    main()
