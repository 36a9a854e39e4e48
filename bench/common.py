"""What the web benchmarks share: a filled database, gunicorn on loopback, percentiles.

The database is SQLite in a temporary directory, or a fresh schema of a PostgreSQL database
(the helper the browser tests use), dropped at the end.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import Engine, insert, select

from server.db import Base, make_engine
from server.kit import kit_info
from server.models import (
    Event,
    EventState,
    ScoreSplit,
    Submission,
    SubmissionScore,
    Team,
    TeamMember,
    User,
    utcnow,
)
from server.states import SubmissionState

ROOT = Path(__file__).resolve().parents[1]
# The benchmarked event runs the deblending kit: its scores are the board's columns.
BENCH_KIT = ROOT / "ramp_kit"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EVENT = "bench"
PASSWORD = "bench password 1"


def user_email(team: int) -> str:
    return f"student{team:02d}@bench.example.org"


@contextmanager
def database(url: str | None, tmp: Path) -> Iterator[str]:
    """SQLite under ``tmp`` when ``url`` is None; else a throw-away schema of ``url``."""
    if url is None:
        yield f"sqlite:///{tmp}/bench.sqlite"
        return
    from tests.browser.livestack import postgres_schema

    with postgres_schema(url) as schema_url:
        yield schema_url


def fill(url: str, teams: int, per_team: int) -> None:
    """One open event without rate limits, one student per team, ``per_team`` scores each."""
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    rng = random.Random(0)
    start = utcnow() - timedelta(days=4)
    password_hash = PasswordHasher().hash(PASSWORD)
    with engine.begin() as conn:
        event_id = conn.execute(
            insert(Event).values(
                name=EVENT, title="Bench", state=EventState.OPEN, kit_dir=str(BENCH_KIT),
                public_data_dir="/p", hidden_data_dir="/h", created_at=start,
                min_gap_seconds=0, max_per_day=10_000,
            ).returning(Event.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(Team),
            [{"event_id": event_id, "name": f"team-{t:02d}", "join_code": f"B{t:07d}",
              "created_at": start} for t in range(teams)],
        )  # fmt: skip
        conn.execute(
            insert(User),
            [{"email": user_email(t), "name": f"Student {t}", "password_hash": password_hash,
              "created_at": start} for t in range(teams)],
        )  # fmt: skip
        team_ids = conn.execute(select(Team.id).order_by(Team.id)).scalars().all()
        user_ids = conn.execute(select(User.id).order_by(User.id)).scalars().all()
        conn.execute(
            insert(TeamMember),
            [{"event_id": event_id, "team_id": team_id, "user_id": user_id}
             for team_id, user_id in zip(team_ids, user_ids, strict=True)],
        )  # fmt: skip
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
        for split in (ScoreSplit.PUBLIC, ScoreSplit.PRIVATE)
        for metric in (score.name for score in kit_info(BENCH_KIT).scores)
    ]  # fmt: skip


def add_scored(engine: Engine, index: int) -> int:
    """Commit one new scored submission (the best so far, so it tops the board); its id."""
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
            row["value"] = 2.0 + index
        conn.execute(insert(SubmissionScore), rows)
    return submission_id


def percentiles(values: list[float], cuts: tuple[int, ...] = (50, 95, 99)) -> str:
    if len(values) < 2:
        return "n/a"
    quantiles = statistics.quantiles(values, n=100)
    return " ".join(f"p{p}={quantiles[p - 1] * 1000:.1f}ms" for p in cuts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(tmp: Path, url: str) -> Path:
    config = tmp / "config.toml"
    config.write_text(
        f"DATABASE_URL = {json.dumps(url)}\nVAR_DIR = {json.dumps(str(tmp))}\n"
        'SECRET_KEY = "bench"\n'
    )
    return config


def start_gunicorn(
    config: Path, port: int, workers: int, threads: int, access_log: Path
) -> subprocess.Popen:
    """gunicorn with the deployment's worker class; the access log gives path, method, ms."""
    env = {**os.environ, "DEBLEND_RAMP_CONFIG": str(config)}
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers), "-k", "gthread",
        "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
        "--access-logfile", str(access_log), "--access-logformat", "%(U)s %(m)s %(s)s %(M)s",
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
