"""``make demo``: a full local event on the embedded defaults.

Generates the data, creates the database, an open event, an instructor and three student teams,
submits the three reference submissions through the same intake as the web page, then runs the
dispatcher (with a local Dask cluster) and the web frontend (gunicorn) until interrupted.
Everything lives under one folder (``var/demo``); running it again reuses what is there.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.config import CONFIG_ENV, load_settings
from server.db import make_engine, make_session_factory
from server.models import Event, EventState, Submission, Team, TeamMember, User, utcnow

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENT_NAME = "deblending"
INSTRUCTOR_EMAIL = "instructor@example.org"
# Each demo team submits one reference submission.
DEMO_TEAMS = (
    ("Source Extractors", "ada@example.org", "Ada", "starting_kit"),
    ("Small Convolutions", "bruno@example.org", "Bruno", "fcnn"),
    ("U-Netters", "chandra@example.org", "Chandra", "unet"),
)


def write_config(var_dir: Path, workers: int) -> Path:
    """The demo's settings file; the hidden seed is drawn once and kept only there."""
    config_path = var_dir / "config.toml"
    if not config_path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        config_path.write_text(
            f'var_dir = "{var_dir}"\n'
            f'database_url = "sqlite:///{var_dir / "deblend-ramp.sqlite"}"\n'
            f'data_root = "{var_dir / "data"}"\n'
            f'scratch_dir = "{var_dir / "scratch"}"\n'
            f"hidden_seed = {secrets.randbelow(2**31 - 1) + 1}\n"
            f"local_workers = {workers}\n"
        )
        config_path.chmod(0o600)
    return config_path


def make_data(settings: dict, n_train: int, n_test: int, n_hidden: int) -> tuple[Path, Path]:
    """The student release and the hidden set, generated unless already there."""
    from ramp_kit.data import generate_hidden_set, generate_student_release

    data_root = Path(settings["DATA_ROOT"])
    student, hidden = data_root / "student", data_root / "hidden"
    if not (student / "data" / "test" / "catalogue.fits").exists():
        generate_student_release(student, n_train=n_train, n_test=n_test)
    if not (hidden / "labels" / "catalogue.fits").exists():
        generate_hidden_set(hidden, n=n_hidden, seed=int(settings["HIDDEN_SEED"]))
    return student, hidden


def _user(session: Session, email: str, name: str, password: str, instructor: bool) -> User:
    from server.web.auth import hash_password

    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None:
        user = User(email=email, name=name, is_instructor=instructor)
        session.add(user)
    user.password_hash = hash_password(password)
    return user


def populate(
    sessions: sessionmaker,
    settings: dict,
    student: Path,
    hidden: Path,
    password: str,
    gap: int,
) -> None:
    """The event, the accounts, and one reference submission per team."""
    from server.web.intake import receive_submission

    with sessions() as session:
        event = session.scalars(select(Event).where(Event.name == EVENT_NAME)).one_or_none()
        if event is None:
            event = Event(
                name=EVENT_NAME,
                title="Deblending galaxies: the school's challenge",
                public_data_dir=str(student),
                hidden_data_dir=str(hidden),
                min_gap_seconds=gap,
                timeout_seconds=1800,
                memory_limit_mb=6144,
            )
            session.add(event)
        event.state, event.opened_at = EventState.OPEN, event.opened_at or utcnow()
        _user(session, INSTRUCTOR_EMAIL, "Instructor", password, instructor=True)
        session.commit()
        for team_name, email, name, submission_name in DEMO_TEAMS:
            user = _user(session, email, name, password, instructor=False)
            team = session.scalars(
                select(Team).where(Team.event_id == event.id, Team.name == team_name)
            ).one_or_none()
            if team is None:
                team = Team(event=event, name=team_name)
                session.add(TeamMember(event_id=event.id, team=team, user=user))
            session.commit()
            already = session.scalars(
                select(Submission).where(Submission.team_id == team.id)
            ).first()
            if already is None:
                folder = REPO_ROOT / "submissions" / submission_name
                receive_submission(
                    session,
                    event,
                    team,
                    user,
                    submission_name,
                    (folder / "deblender.py").read_bytes(),
                    [],
                    max_file_bytes=settings["SUBMISSION_MAX_FILE_BYTES"],
                    max_files=settings["SUBMISSION_MAX_FILES"],
                )


def _wait_for_http(url: str, seconds: float) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the web server did not answer at {url} within {seconds:.0f} s")


def all_scored(sessions: sessionmaker) -> bool:
    """Whether every submission of the demo event has reached a final state."""
    with sessions() as session:
        states = session.scalars(select(Submission.state)).all()
    return bool(states) and all(state.is_final for state in states)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="var/demo", help="folder of the demo's state")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="local Dask workers")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--n-hidden", type=int, default=1000)
    parser.add_argument("--min-gap", type=int, default=60, help="seconds between submissions")
    parser.add_argument(
        "--exit-when-scored", action="store_true", help="stop once every submission is final"
    )
    args = parser.parse_args(argv)

    var_dir = Path(args.dir).resolve()
    config_path = write_config(var_dir, args.workers)
    os.environ[CONFIG_ENV] = str(config_path)
    settings = load_settings()
    password_file = var_dir / "demo-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(9))
    password = password_file.read_text().strip()

    student, hidden = make_data(settings, args.n_train, args.n_test, args.n_hidden)
    python_bin = Path(sys.executable).parent
    subprocess.run([str(python_bin / "deblend-ramp"), "init-db"], check=True)
    sessions = make_session_factory(make_engine(settings["DATABASE_URL"]))
    populate(sessions, settings, student, hidden, password, args.min_gap)

    children = [
        subprocess.Popen([sys.executable, "-m", "server.engine", "--event", EVENT_NAME]),
        subprocess.Popen(
            [
                str(python_bin / "gunicorn"),
                "--config",
                str(REPO_ROOT / "deploy" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                "2",
            ]
        ),
    ]
    url = f"http://127.0.0.1:{args.port}"
    try:
        _wait_for_http(f"{url}/", 60)
        print(
            f"\n  deblend-ramp demo running at {url}/events/{EVENT_NAME}\n"
            f"  instructor: {INSTRUCTOR_EMAIL}   students: "
            + ", ".join(email for _, email, _, _ in DEMO_TEAMS)
            + f"\n  password (all demo accounts): {password}\n"
            "  the three reference submissions are in the queue; Ctrl-C stops the demo.\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            if args.exit_when_scored and all_scored(sessions):
                return 0
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
