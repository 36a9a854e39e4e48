"""``deblend-ramp``: the instructors' command line (database, events, accounts, results)."""

from __future__ import annotations

import csv
import secrets
from pathlib import Path
from typing import TextIO

import click
from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.config import load_settings
from server.db import make_engine, make_session_factory
from server.models import Event, EventState, ScoreSplit, Submission, Team, TeamMember, User, utcnow
from server.web.auth import hash_password

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration without an ini file: the migrations shipped with the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an option: an option would need '%' escaped in passwords.
    config.attributes["database_url"] = database_url
    return config


def _session() -> Session:
    return make_session_factory(make_engine(load_settings()["DATABASE_URL"]))()


def _event(session: Session, name: str) -> Event:
    event = session.scalars(select(Event).where(Event.name == name)).one_or_none()
    if event is None:
        raise click.ClickException(f"no event named {name!r}; create it with create-event")
    return event


def _user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()


@click.group()
def main() -> None:
    """Run a deblending challenge: DEBLEND_RAMP_CONFIG names the settings file."""


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (alembic upgrade head)."""
    url = load_settings()["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")
    click.echo("database is at the latest revision")


@main.command("create-event")
@click.argument("name")
@click.option("--title", required=True)
@click.option("--public-data", required=True, type=click.Path(file_okay=False, resolve_path=True))
@click.option("--hidden-data", required=True, type=click.Path(file_okay=False, resolve_path=True))
@click.option("--n-folds", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--gpu/--no-gpu", default=False, show_default=True)
@click.option("--min-gap", default=300, show_default=True, type=click.IntRange(min=0))
@click.option("--max-per-day", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--timeout", default=1800, show_default=True, type=click.IntRange(min=1))
@click.option("--memory-mb", default=8192, show_default=True, type=click.IntRange(min=64))
def create_event(
    name: str,
    title: str,
    public_data: str,
    hidden_data: str,
    n_folds: int,
    gpu: bool,
    min_gap: int,
    max_per_day: int,
    timeout: int,
    memory_mb: int,
) -> None:
    """Create event NAME (a URL slug) in the draft state."""
    # Students download the public directory: the hidden set must not be inside it (or around).
    if Path(public_data).is_relative_to(hidden_data) or Path(hidden_data).is_relative_to(
        public_data
    ):
        raise click.ClickException("the public and hidden data directories must not nest")
    with _session() as session:
        if session.scalars(select(Event).where(Event.name == name)).first():
            raise click.ClickException(f"event {name!r} already exists")
        session.add(
            Event(
                name=name,
                title=title,
                public_data_dir=public_data,
                hidden_data_dir=hidden_data,
                n_folds=n_folds,
                use_gpu=gpu,
                min_gap_seconds=min_gap,
                max_per_day=max_per_day,
                timeout_seconds=timeout,
                memory_limit_mb=memory_mb,
            )
        )
        session.commit()
    click.echo(f"created event {name!r} (draft); open it with: deblend-ramp open-event {name}")


@main.command("open-event")
@click.argument("name")
def open_event(name: str) -> None:
    """Open event NAME: students see it and submit."""
    with _session() as session:
        event = _event(session, name)
        event.state, event.opened_at = EventState.OPEN, utcnow()
        session.commit()
    click.echo(f"event {name!r} is open")


@main.command("close-event")
@click.argument("name")
def close_event(name: str) -> None:
    """Close event NAME: no more submissions; private scores are revealed."""
    with _session() as session:
        event = _event(session, name)
        event.state, event.closed_at = EventState.CLOSED, utcnow()
        session.commit()
    click.echo(f"event {name!r} is closed")


@main.command("create-user")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user(email: str, name: str, password: str) -> None:
    """Create an account for EMAIL."""
    with _session() as session:
        if _user(session, email):
            raise click.ClickException(f"an account already exists for {email}")
        session.add(
            User(email=email.strip().lower(), name=name, password_hash=hash_password(password))
        )
        session.commit()
    click.echo(f"created {email}")


@main.command("make-instructor")
@click.argument("email")
def make_instructor(email: str) -> None:
    """Give EMAIL's account the instructor role (every event, the admin pages)."""
    with _session() as session:
        user = _user(session, email)
        if user is None:
            raise click.ClickException(f"no account for {email}; create it with create-user")
        user.is_instructor = True
        session.commit()
    click.echo(f"{email} is an instructor")


@main.command("import-students")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--event", "event_name", required=True)
@click.option("--out", "out_file", required=True, type=click.File("w"), help="passwords CSV")
def import_students(csv_file: TextIO, event_name: str, out_file: TextIO) -> None:
    """Create accounts and teams from CSV_FILE (columns name,email,team).

    New accounts get a one-time password, written with the email to --out for the instructor to
    hand out; it must be changed at the first login. Existing accounts keep their password.
    """
    rows = list(csv.DictReader(csv_file))
    missing = {"name", "email", "team"} - set(rows[0] if rows else {})
    if missing:
        raise click.ClickException(f"the CSV lacks the column(s) {', '.join(sorted(missing))}")
    output = [["email", "name", "team", "password"]]
    with _session() as session:
        event = _event(session, event_name)
        created = 0
        for row in rows:
            email, team_name = row["email"].strip().lower(), row["team"].strip()
            user, password = _user(session, email), ""
            if user is None:
                password = secrets.token_urlsafe(9)
                user = User(email=email, name=row["name"].strip(), must_change_password=True)
                user.password_hash = hash_password(password)
                session.add(user)
                created += 1
            team = session.scalars(
                select(Team).where(Team.event_id == event.id, Team.name == team_name)
            ).one_or_none() or Team(event=event, name=team_name)
            session.add(team)
            session.flush()
            membership = session.scalars(
                select(TeamMember).where(
                    TeamMember.event_id == event.id, TeamMember.user_id == user.id
                )
            ).one_or_none()
            if membership is None:
                session.add(TeamMember(event_id=event.id, team=team, user=user))
            elif membership.team_id != team.id:
                raise click.ClickException(
                    f"{email} is already in team {membership.team.name!r}, not {team_name!r}; "
                    "nothing was imported"
                )
            output.append([email, user.name, team_name, password])
        session.commit()
    # Written only once committed: a refused import hands out no password.
    csv.writer(out_file).writerows(output)
    click.echo(f"imported {len(rows)} students ({created} new accounts) into {event_name!r}")


@main.command("export-results")
@click.argument("name")
@click.option("--out", "out_file", required=True, type=click.File("w"))
def export_results(name: str, out_file: TextIO) -> None:
    """Write every submission of event NAME with its public and private test scores."""
    with _session() as session:
        event = _event(session, name)
        submissions = session.scalars(
            select(Submission)
            .where(Submission.event_id == event.id)
            .order_by(Submission.created_at)
        ).all()
        test_splits = (ScoreSplit.PUBLIC, ScoreSplit.PRIVATE)
        metrics = sorted(
            {row.metric for s in submissions for row in s.scores if row.split in test_splits}
        )
        writer = csv.writer(out_file)
        writer.writerow(
            ["team", "submission", "state", "submitted_at", "compute_seconds"]
            + [f"{split.value}_{metric}" for split in test_splits for metric in metrics]
        )
        for s in submissions:
            scores = [s.score(split, metric) for split in test_splits for metric in metrics]
            writer.writerow(
                [s.team.name, s.name, s.state.value, s.created_at.isoformat(), s.compute_seconds]
                + ["" if value is None else value for value in scores]
            )
    click.echo(f"wrote {len(submissions)} submissions to {out_file.name}")
