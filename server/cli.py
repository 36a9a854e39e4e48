"""``deblend-ramp``: the instructors' command line (database, events, accounts, results)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TextIO

import click
from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.config import load_settings
from server.db import make_engine, make_session_factory
from server.kit import KitInfo, kit_info, load_problem
from server.models import Event, EventState, ScoreSplit, Submission, Team, TeamMember, User
from server.names import NameRefusedError, name_key, normalise_email
from server.passwords import hash_password, new_password
from server.private_files import private_sqlite_database
from server.states import IllegalTransitionError
from server.web.downloads import UnknownSubmissionError, check_public_submissions
from server.web.exports import write_csv_rows

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


def _move(event: Event, state: EventState) -> None:
    try:
        event.set_state(state)
    except IllegalTransitionError as error:
        raise click.ClickException(str(error)) from None


def _user(session: Session, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except NameRefusedError as error:
        raise click.ClickException(str(error)) from None
    return session.scalars(select(User).where(User.email == email)).one_or_none()


def _private_output(out_file: TextIO) -> None:
    """Make a file about to receive passwords readable by its owner only (not stdout)."""
    if getattr(out_file, "name", "-") not in ("-", "<stdout>"):
        os.fchmod(out_file.fileno(), 0o600)


@click.group()
def main() -> None:
    """Run challenges of ramp-workflow kits: DEBLEND_RAMP_CONFIG names the settings file."""


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (alembic upgrade head)."""
    url = load_settings()["DATABASE_URL"]
    private_sqlite_database(url)  # hashes, code and private scores: 0600, created before SQLite
    command.upgrade(alembic_config(url), "head")
    click.echo("database is at the latest revision")


@main.command("create-event")
@click.argument("name")
@click.option(
    "--kit",
    "kit_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, resolve_path=True),
    help="the ramp-workflow kit folder (problem.py, submissions/)",
)
@click.option(
    "--public-data",
    type=click.Path(exists=True, file_okay=False, resolve_path=True),
    help="the data folder students have (get_train_data's path)  [default: the kit folder]",
)
@click.option(
    "--hidden-data",
    required=True,
    type=click.Path(exists=True, file_okay=False, resolve_path=True),
    help="the data folder whose test split is hidden (get_test_data's path)",
)
@click.option("--title", help="shown on the site  [default: the kit's problem_title]")
@click.option("--gpu/--no-gpu", default=False, show_default=True)
@click.option("--min-gap", type=click.IntRange(min=0), help="seconds between a team's uploads")
@click.option("--max-per-day", type=click.IntRange(min=1), help="a team's uploads per 24 h")
@click.option("--timeout", type=click.IntRange(min=1), help="seconds a submission may run")
@click.option("--memory-mb", type=click.IntRange(min=64), help="memory a submission may use")
@click.option(
    "--public-submission",
    "public_submissions",
    multiple=True,
    metavar="NAME",
    help="a folder of the kit's submissions/ that the starting-kit zip gives students "
    "(repeat for several)  [default: every one]",
)
def create_event(
    name: str,
    kit_dir: str,
    public_data: str | None,
    hidden_data: str,
    title: str | None,
    gpu: bool,
    min_gap: int | None,
    max_per_day: int | None,
    timeout: int | None,
    memory_mb: int | None,
    public_submissions: tuple[str, ...],
) -> None:
    """Create event NAME (a URL slug) of a ramp-workflow kit, in the draft state."""
    public_data = public_data or kit_dir
    # The kit and the public data reach students and sandboxes: the hidden set stays apart.
    for shown in (kit_dir, public_data):
        if Path(shown).is_relative_to(hidden_data) or Path(hidden_data).is_relative_to(shown):
            raise click.ClickException(
                f"the hidden data folder must not be inside {shown} nor contain it"
            )
    info = check_kit(kit_dir, public_data, hidden_data)
    try:
        shown_submissions = (
            check_public_submissions(Path(kit_dir), public_submissions)
            if public_submissions
            else None
        )
    except UnknownSubmissionError as error:
        raise click.ClickException(f"--public-submission: {error}") from None
    limits = {
        "min_gap_seconds": min_gap,
        "max_per_day": max_per_day,
        "timeout_seconds": timeout,
        "memory_limit_mb": memory_mb,
    }
    with _session() as session:
        if session.scalars(select(Event).where(Event.name == name)).first():
            raise click.ClickException(f"event {name!r} already exists")
        session.add(
            Event(
                name=name,
                title=title or info.title,
                kit_dir=kit_dir,
                public_data_dir=public_data,
                hidden_data_dir=hidden_data,
                use_gpu=gpu,
                public_submissions=shown_submissions,
                # Unset limits take the model's defaults.
                **{key: value for key, value in limits.items() if value is not None},
            )
        )
        session.commit()
    scores = ", ".join(s.name for s in info.scores)
    click.echo(
        f"created event {name!r} (draft) of {info.title!r}: a submission is "
        f"{', '.join(info.element_files)}; scores {scores} (official: {info.official.name})"
    )
    given = ", ".join(shown_submissions) if shown_submissions is not None else "every one"
    click.echo(f"reference submissions in the starting-kit zip: {given}")
    click.echo(f"open it with: deblend-ramp open-event {name}")


def check_kit(kit_dir: str, public_data: str, hidden_data: str) -> KitInfo:
    """The kit's facts, once its readers have read both data folders as ramp-test would."""
    try:
        info = kit_info(kit_dir)
        problem = load_problem(kit_dir)
        X_train, y_train = problem.get_train_data(path=public_data)  # noqa: N806
        list(problem.get_cv(X_train, y_train))
        problem.get_test_data(path=hidden_data)
    except Exception as exc:  # noqa: BLE001 - whatever the kit raises, say where it came from
        raise click.ClickException(
            f"the kit {kit_dir} cannot read its data (public {public_data}, hidden "
            f"{hidden_data}): {type(exc).__name__}: {exc}"
        ) from exc
    return info


@main.command("open-event")
@click.argument("name")
def open_event(name: str) -> None:
    """Open event NAME: students see it and submit."""
    with _session() as session:
        event = _event(session, name)
        _move(event, EventState.OPEN)
        session.commit()
    click.echo(f"event {name!r} is open")


@main.command("close-event")
@click.argument("name")
def close_event(name: str) -> None:
    """Close event NAME: no more submissions; private scores are revealed."""
    with _session() as session:
        event = _event(session, name)
        _move(event, EventState.CLOSED)
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
        try:
            user = User(email=email, name=name, password_hash=hash_password(password))
        except NameRefusedError as error:
            raise click.ClickException(str(error)) from None
        session.add(user)
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


@main.command("end-sessions")
@click.argument("email")
def end_sessions(email: str) -> None:
    """Log EMAIL's account out of every browser: its sessions and remember-me cookies end."""
    with _session() as session:
        user = _user(session, email)
        if user is None:
            raise click.ClickException(f"no account for {email}")
        user.session_version += 1
        session.commit()
    click.echo(f"every session of {email} has ended")


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
        for line, row in enumerate(rows, start=2):
            email, team_name = row["email"].strip().lower(), row["team"].strip()
            user, password = _user(session, email), ""
            try:
                if user is None:
                    password = new_password()
                    user = User(email=email, name=row["name"], must_change_password=True)
                    user.password_hash = hash_password(password)
                    session.add(user)
                    created += 1
                # Look-alike spellings of a team name (case, dashes) are the same team.
                team = session.scalars(
                    select(Team).where(
                        Team.event_id == event.id, Team.name_key == name_key(team_name)
                    )
                ).one_or_none() or Team(event=event, name=team_name)
            except NameRefusedError as error:
                raise click.ClickException(f"line {line}: {error} Nothing was imported.") from None
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
    _private_output(out_file)
    write_csv_rows(out_file, output)
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
        rows: list[list] = [
            ["team", "submission", "state", "submitted_at", "compute_seconds"]
            + [f"{split.value}_{metric}" for split in test_splits for metric in metrics]
        ]
        for s in submissions:
            scores = [s.score(split, metric) for split in test_splits for metric in metrics]
            rows.append(
                [s.team.name, s.name, s.state.value, s.created_at.isoformat(), s.compute_seconds]
                + ["" if value is None else value for value in scores]
            )
        write_csv_rows(out_file, rows)  # team names come from students: formula-safe cells
    click.echo(f"wrote {len(submissions)} submissions to {out_file.name}")
