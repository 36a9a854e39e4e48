"""Engine benchmark: latency, overhead, worker utilisation and dispatcher memory.

    .venv/bin/python bench/bench_engine.py [--workers 4] [--tiny 200] [--memory-jobs 1000]

Runs the real dispatcher on a LocalCluster with a stand-in job (it sleeps for the "student"
time and records when it ran), so the numbers are the engine's own: queueing, Dask, database.
Targets: queued -> running < 1 s; overhead per job < 3 s; busy > 90 %; RSS flat.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import psutil
from sqlalchemy import func, select

from server.db import Base, make_engine, make_session_factory
from server.engine.cluster import Connection, local_cluster
from server.engine.dispatcher import Dispatcher
from server.models import Event, Submission, SubmissionFile, Team
from server.states import SubmissionState


def _make_job():
    # A local function: shipped to the workers by value (cloudpickle).
    def timed_job(spec, scratch_root, topic):
        from server.engine.job import JobOutcome, JobResult

        start = time.time()
        time.sleep(json.loads(spec.files["deblender.py"])["sleep"])
        end = time.time()
        key = f"{spec.submission_id}-{spec.attempt}-{spec.kind}"
        (Path(scratch_root) / key).write_text(f"{start} {end}")
        return JobResult(
            spec.submission_id,
            spec.attempt,
            spec.kind,
            JobOutcome.SUCCEEDED,
            wall_seconds=end - start,
        )

    return timed_job


def setup(root: Path, n_teams: int = 4):
    engine = make_engine(f"sqlite:///{root / 'bench.sqlite'}")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        session.add(Event(name="bench", title="Bench", public_data_dir="/p", hidden_data_dir="/h"))
        session.add_all(Team(event_id=1, name=f"t{i}") for i in range(n_teams))
        session.commit()
    return factory


def add(factory, n: int, sleep: float, n_teams: int = 4) -> list[tuple[int, float]]:
    """Queue ``n`` submissions; returns (id, commit time)."""
    out = []
    with factory() as session:
        for i in range(n):
            sub = Submission(event_id=1, team_id=1 + i % n_teams, name=f"s{time.monotonic_ns()}")
            content = json.dumps({"sleep": sleep}).encode()
            sub.files.append(SubmissionFile(name="deblender.py", content=content, sha256="0"))
            session.add(sub)
            session.commit()
            out.append((sub.id, time.time()))
    return out


def wait_done(factory, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with factory() as session:
            left = session.scalar(
                select(func.count()).where(Submission.state != SubmissionState.SCORED)
            )
        if left == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{left} submissions not scored after {timeout} s")


def job_times(scratch: Path, sid: int, kind: str) -> tuple[float, float]:
    start, end = (scratch / f"{sid}-0-{kind}").read_text().split()
    return float(start), float(end)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tiny", type=int, default=200)
    parser.add_argument("--memory-jobs", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    cluster = local_cluster(args.workers)
    factory = setup(root)
    dispatcher = Dispatcher(
        factory,
        "bench",
        Connection(cluster=cluster),
        scratch_root=str(root),
        job_function=_make_job(),
        poll_seconds=args.poll,
    )
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        # 1-2. Latency and overhead, one submission at a time on an idle cluster.
        latencies, overheads = [], []
        for _ in range(5):
            [(sid, queued)] = add(factory, 1, sleep=0.2)
            wait_done(factory, 60)
            done = time.time()
            check, full = job_times(root, sid, "quick_check"), job_times(root, sid, "full")
            latencies.append(check[0] - queued)
            student = (check[1] - check[0]) + (full[1] - full[0])
            overheads.append((done - queued - student) / 2)  # two jobs per submission
        print(f"queued -> running: median {sorted(latencies)[2]:.3f} s (poll {args.poll} s)")
        print(f"engine overhead per job: median {sorted(overheads)[2]:.3f} s")
        # 3. Utilisation: tiny submissions, each job 0.5 s of "student" time.
        subs = add(factory, args.tiny, sleep=0.5)
        t0 = time.time()
        wait_done(factory, 900)
        wall = time.time() - t0
        busy = sum(
            e - s
            for sid, _ in subs
            for s, e in (job_times(root, sid, "quick_check"), job_times(root, sid, "full"))
        )
        print(
            f"{args.tiny} tiny submissions on {args.workers} workers: wall {wall:.1f} s, "
            f"busy {100 * busy / (args.workers * wall):.1f} %"
        )
        # 4. Dispatcher memory over many jobs (two per submission).
        process = psutil.Process()
        rss_start = process.memory_info().rss / 2**20
        t0 = time.time()
        add(factory, args.memory_jobs // 2, sleep=0.0)
        wait_done(factory, 1800)
        rss_end = process.memory_info().rss / 2**20
        print(
            f"RSS over {args.memory_jobs} jobs: {rss_start:.0f} -> {rss_end:.0f} MiB "
            f"({time.time() - t0:.0f} s, flights left {len(dispatcher.flights)})"
        )
    finally:
        stop.set()
        thread.join(30)
        dispatcher.close()
        cluster.close()


if __name__ == "__main__":
    main()
