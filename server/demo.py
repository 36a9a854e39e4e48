"""``make demo``: a full local event per kit of ``demo/events.toml``, on the embedded defaults.

For every event it makes the public and hidden data with the kit's own commands, then creates
the database, the open events, an instructor and the demo teams, submits each team's reference
submission through the same intake as the web page, and runs one dispatcher per event (on one
local Dask cluster) and the web frontend (gunicorn) until interrupted. Everything lives under
one folder (``var/demo``); running it again reuses what is there.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.config import CONFIG_ENV, load_settings
from server.db import make_engine, make_session_factory
from server.kit import kit_info
from server.models import Event, EventState, Submission, Team, TeamMember, User
from server.passwords import new_password
from server.private_files import write_private_text
from server.web.downloads import check_public_submissions

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_FILE = REPO_ROOT / "demo" / "events.toml"
INSTRUCTOR_EMAIL = "instructor@example.org"
# Never uploaded with a reference submission: what ramp-test leaves behind.
SKIPPED_PARTS = {"__pycache__", "training_output", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class DemoEvent:
    """One event of demo/events.toml."""

    name: str
    title: str
    kit: Path
    public_data: list[str]
    hidden_data: list[str]
    settings: dict[str, Any]  # Event columns: memory_limit_mb, timeout_seconds...
    sizes: dict[str, dict[str, int]]
    teams: list[dict[str, str]]
    public_submissions: list[str] | None  # None: the zip gives every reference submission


def read_events(path: Path = EVENTS_FILE) -> list[DemoEvent]:
    with path.open("rb") as source:
        table = tomllib.load(source)
    events = []
    for entry in table["events"]:
        entry = dict(entry)
        kit = REPO_ROOT / entry.pop("kit")
        public = entry.pop("public_submissions", None)
        # A misspelt name fails here, before any data is made.
        public = None if public is None else check_public_submissions(kit, public)
        events.append(
            DemoEvent(
                name=entry.pop("name"),
                title=entry.pop("title"),
                kit=kit,
                public_data=entry.pop("public_data"),
                hidden_data=entry.pop("hidden_data"),
                sizes=entry.pop("sizes"),
                teams=entry.pop("teams"),
                public_submissions=public,
                settings=entry,
            )
        )
    return events


def write_config(var_dir: Path, workers: int) -> Path:
    """The demo's settings file, private: it names the database."""
    config_path = var_dir / "config.toml"
    if not config_path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        config_path.write_text(
            f'var_dir = "{var_dir}"\n'
            f'database_url = "sqlite:///{var_dir / "deblend-ramp.sqlite"}"\n'
            f'data_root = "{var_dir / "data"}"\n'
            f'scratch_dir = "{var_dir / "scratch"}"\n'
            f"local_workers = {workers}\n"
        )
        config_path.chmod(0o600)
    return config_path


def make_data(event: DemoEvent, data_root: Path, scale: str) -> tuple[Path, Path]:
    """The event's public and hidden data, made by the kit's commands unless already there.

    The hidden set's seed is drawn here, handed to the generator in ``$DEMO_HIDDEN_SEED`` and
    kept nowhere: nobody can make that set again.
    """
    public, hidden = data_root / event.name / "public", data_root / event.name / "hidden"
    values = {"python": sys.executable, "public": str(public), "hidden": str(hidden)}
    values |= {key: str(value) for key, value in event.sizes[scale].items()}
    for folder, command in ((public, event.public_data), (hidden, event.hidden_data)):
        done = folder / ".complete"
        if done.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DEMO_HIDDEN_SEED": str(secrets.randbelow(2**31 - 1) + 1)}
        argv = [part.format(**values) for part in command]
        print(f"  making the {event.name} data: {' '.join(argv[1:])}", flush=True)
        subprocess.run(argv, cwd=REPO_ROOT, env=env, check=True)
        done.touch()
    hidden.chmod(0o700)  # only the workers read the hidden set
    return public, hidden


def _user(session: Session, email: str, name: str, password: str, instructor: bool) -> User:
    from server.passwords import hash_password

    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None:
        user = User(email=email, name=name, is_instructor=instructor)
        session.add(user)
    user.password_hash = hash_password(password)
    return user


def submission_files(folder: Path) -> list[tuple[str, bytes]]:
    """Every file of a reference submission folder, as the upload form would send them."""
    return [
        (path.name, path.read_bytes())
        for path in sorted(folder.iterdir())
        if path.is_file() and not SKIPPED_PARTS & set(path.parts)
    ]


def populate(
    sessions: sessionmaker,
    settings: dict,
    event_spec: DemoEvent,
    public: Path,
    hidden: Path,
    password: str,
    gap: int,
) -> None:
    """The event, the accounts, and one reference submission per team."""
    from server.web.intake import receive_submission

    with sessions() as session:
        event = session.scalars(select(Event).where(Event.name == event_spec.name)).one_or_none()
        if event is None:
            event = Event(
                name=event_spec.name,
                title=event_spec.title,
                state=EventState.DRAFT,
                kit_dir=str(event_spec.kit),
                public_data_dir=str(public),
                hidden_data_dir=str(hidden),
                public_submissions=event_spec.public_submissions,
                min_gap_seconds=gap,
                **event_spec.settings,
            )
            session.add(event)
        if event.state is not EventState.OPEN:
            event.set_state(EventState.OPEN)
        _user(session, INSTRUCTOR_EMAIL, "Instructor", password, instructor=True)
        session.commit()
        element_files = kit_info(event.kit_dir).element_files
        for spec in event_spec.teams:
            user = _user(session, spec["email"], spec["user"], password, instructor=False)
            team = session.scalars(
                select(Team).where(Team.event_id == event.id, Team.name == spec["name"])
            ).one_or_none()
            if team is None:
                team = Team(event=event, name=spec["name"])
                session.add(TeamMember(event_id=event.id, team=team, user=user))
            session.commit()
            already = session.scalars(
                select(Submission).where(Submission.team_id == team.id)
            ).first()
            if already is None:
                folder = REPO_ROOT / spec["submission"]
                receive_submission(
                    session,
                    event,
                    team,
                    user,
                    folder.name,
                    submission_files(folder),
                    element_files=element_files,
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
    """Whether every submission of the demo's events has reached a final state."""
    with sessions() as session:
        states = session.scalars(select(Submission.state)).all()
    return bool(states) and all(state.is_final for state in states)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="var/demo", help="folder of the demo's state")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="local Dask workers")
    parser.add_argument(
        "--scale", choices=("full", "small"), default="full", help="data sizes of events.toml"
    )
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
        write_private_text(password_file, new_password())  # it opens every account
    password = password_file.read_text().strip()

    events = read_events()
    data = {e.name: make_data(e, Path(settings["DATA_ROOT"]), args.scale) for e in events}
    python_bin = Path(sys.executable).parent
    subprocess.run([str(python_bin / "deblend-ramp"), "init-db"], check=True)
    sessions = make_session_factory(make_engine(settings["DATABASE_URL"]))
    for event in events:
        populate(sessions, settings, event, *data[event.name], password, args.min_gap)

    children = [
        subprocess.Popen([sys.executable, "-m", "server.engine", "--event", event.name])
        for event in events
    ]
    children.append(
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
        )
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        _wait_for_http(f"{url}/", 60)
        students = sorted({team["email"] for event in events for team in event.teams})
        print(
            "\n  deblend-ramp demo running at "
            + ", ".join(f"{url}/events/{event.name}" for event in events)
            + f"\n  instructor: {INSTRUCTOR_EMAIL}   students: {', '.join(students)}"
            + f"\n  password (all demo accounts): {password}\n"
            "  the reference submissions are in the queues; Ctrl-C stops the demo.\n",
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
