"""Leaderboard load test: 60 teams x 50 scored submissions, 100 polling clients, gunicorn.

Fills a fresh database, starts gunicorn on loopback, runs the clients for ``--seconds`` while a
writer commits a new scored submission every ``--write-every`` seconds, then prints requests/s
and latency percentiles for the page and the JSON poll, and the delay between a score's commit
and its first appearance in a client's poll.

    .venv/bin/python bench/bench_leaderboard.py            # SQLite in a temporary directory
    .venv/bin/python bench/bench_leaderboard.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from server.db import Base, make_engine
from server.models import Event, EventState, ScoreSplit, Submission, SubmissionScore, Team, utcnow
from server.states import SubmissionState
from server.web.ranking import METRICS

ROOT = Path(__file__).resolve().parents[1]

EVENT = "bench"


def fill(url: str, teams: int, per_team: int) -> None:
    """A fresh schema holding one open event and ``teams * per_team`` scored submissions."""
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    rng = random.Random(0)
    start = utcnow() - timedelta(days=4)
    with engine.begin() as conn:
        event_id = conn.execute(
            insert(Event).values(
                name=EVENT, title="Bench", state=EventState.OPEN, public_data_dir="/p",
                hidden_data_dir="/h", created_at=start,
            ).returning(Event.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(Team),
            [{"event_id": event_id, "name": f"team-{t:02d}", "join_code": f"B{t:07d}",
              "created_at": start} for t in range(teams)],
        )  # fmt: skip
        team_ids = conn.execute(select(Team.id).order_by(Team.id)).scalars().all()
        for team_id in team_ids:
            rows = []
            for s in range(per_team):
                when = start + timedelta(minutes=rng.uniform(0, 5000))
                rows.append({"event_id": event_id, "team_id": team_id, "name": f"sub-{s:02d}",
                             "state": SubmissionState.SCORED, "created_at": when,
                             "queued_at": when, "finished_at": when + timedelta(minutes=20),
                             "train_seconds": rng.uniform(60, 1500)})  # fmt: skip
            ids = conn.execute(insert(Submission).returning(Submission.id), rows).scalars().all()
            conn.execute(insert(SubmissionScore), [r for i in ids for r in score_rows(i, rng)])
    engine.dispose()


def score_rows(submission_id: int, rng: random.Random) -> list[dict]:
    base = rng.uniform(0.3, 0.9)
    return [
        {"submission_id": submission_id, "split": split, "fold": None, "metric": metric,
         "value": base + rng.gauss(0, 0.01)}
        for split in (ScoreSplit.PUBLIC, ScoreSplit.PRIVATE) for metric in METRICS
    ]  # fmt: skip


def add_scored(url: str, index: int) -> int:
    """Commit one new scored submission (the best so far); returns its id."""
    engine = make_engine(url)
    with engine.begin() as conn:
        event_id, team_id = conn.execute(
            select(Team.event_id, Team.id).order_by(Team.id).limit(1)
        ).one()
        now = utcnow()
        submission_id = conn.execute(
            insert(Submission).values(
                event_id=event_id, team_id=team_id, name=f"live-{index:03d}",
                state=SubmissionState.SCORED, created_at=now, queued_at=now, finished_at=now,
                train_seconds=60.0,
            ).returning(Submission.id)
        ).scalar_one()  # fmt: skip
        rows = score_rows(submission_id, random.Random(index))
        for row in rows:
            row["value"] = 2.0 + index  # tops the board
        conn.execute(insert(SubmissionScore), rows)
    engine.dispose()
    return submission_id


class Recorder:
    """Latencies per kind, and when each client first saw each new submission."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {"page": [], "poll": []}
        self.errors = 0
        self.committed: dict[int, float] = {}  # submission id -> commit time
        self.seen: dict[int, list[float]] = {}  # submission id -> delays seen by clients

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency[kind].append(seconds)

    def saw(self, ids: set[int], now: float) -> None:
        with self.lock:
            for sub_id in ids & self.committed.keys():
                self.seen.setdefault(sub_id, []).append(now - self.committed[sub_id])


def client(port: int, stop: float, interval: float, page_every: float, rec: Recorder) -> None:
    """One browser tab: loads the page, polls the JSON, reloads the page now and then."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    poll = f"/events/{EVENT}/leaderboard.json?since="
    token, known = "", set()
    next_page = time.monotonic() + random.uniform(0, page_every)
    first = True
    while time.monotonic() < stop:
        started = time.monotonic()
        kind = "page" if first or started >= next_page else "poll"
        path = f"/events/{EVENT}/leaderboard" if kind == "page" else poll + token
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise OSError(f"HTTP {response.status}")
        except (OSError, http.client.HTTPException):
            rec.errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            time.sleep(interval)
            continue
        done = time.monotonic()
        rec.add(kind, done - started)
        if kind == "page":
            next_page, first = done + page_every, False
        else:
            data = json.loads(body)
            if data["changed"]:
                token = data["token"]
                ids = {row["id"] for row in data["rows"]}
                if known:
                    rec.saw(ids - known, done)
                known = ids
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    conn.close()


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100)
    return " ".join(f"p{p}={cuts[p - 1] * 1000:.1f}ms" for p in (50, 95, 99))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    config: Path, port: int, workers: int, threads: int, access_log: Path
) -> subprocess.Popen:
    env = {**os.environ, "DEBLEND_RAMP_CONFIG": str(config)}
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers), "-k", "gthread",
        "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
        "--access-logfile", str(access_log), "--access-logformat", "%(U)s %(M)s",
        "server.web:create_app()",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--teams", type=int, default=60)
    parser.add_argument("--per-team", type=int, default=50)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=1.0, help="poll period per client")
    parser.add_argument("--page-every", type=float, default=10.0, help="page reload period")
    parser.add_argument("--write-every", type=float, default=2.0, help="new score period")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-leaderboard-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        began = time.monotonic()
        fill(url, args.teams, args.per_team)
        print(f"filled {args.teams * args.per_team} scored submissions in "
              f"{time.monotonic() - began:.1f} s ({url.split(':')[0]})")  # fmt: skip
        config = Path(tmp) / "config.toml"
        config.write_text(
            f"DATABASE_URL = {json.dumps(url)}\nVAR_DIR = {json.dumps(tmp)}\n"
            f'SECRET_KEY = "bench"\n'
        )
        port = free_port()
        access_log = Path(tmp) / "access.log"
        server = start_gunicorn(config, port, args.workers, args.threads, access_log)
        rec = Recorder()
        try:
            stop = time.monotonic() + args.seconds
            threads = [
                threading.Thread(
                    target=client, args=(port, stop, args.interval, args.page_every, rec)
                )
                for _ in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            index = 0
            next_write = time.monotonic() + args.write_every
            while next_write < stop - 3:  # the last scores still get time to show
                time.sleep(max(0.0, next_write - time.monotonic()))
                next_write += args.write_every
                submission_id = add_scored(url, index)
                with rec.lock:
                    rec.committed[submission_id] = time.monotonic()
                index += 1
            for thread in threads:
                thread.join(args.seconds + 30)
        finally:
            server.terminate()
            server.wait(10)
        server_side = {"page": [], "poll": []}
        for line in access_log.read_text().splitlines():
            path, millis = line.rsplit(" ", 1)
            server_side["poll" if path.endswith(".json") else "page"].append(int(millis) / 1000)
    report(rec, args.seconds)
    for kind, values in server_side.items():
        print(f"  server-side {kind:5s} {percentiles(values)}")


def report(rec: Recorder, seconds: float) -> None:
    total = sum(len(v) for v in rec.latency.values())
    print(f"{total / seconds:.0f} requests/s over {seconds:.0f} s, {rec.errors} errors")
    for kind, values in rec.latency.items():
        print(f"  {kind:5s} {len(values) / seconds:6.1f} req/s  {percentiles(values)}")
    first = [min(delays) for delays in rec.seen.values()]
    every = [d for delays in rec.seen.values() for d in delays]
    print(
        f"new score -> poll: {len(rec.seen)}/{len(rec.committed)} seen; first client "
        f"{percentiles(first)}; all clients {percentiles(every)}"
    )


if __name__ == "__main__":
    main()
