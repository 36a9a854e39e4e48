import csv

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import inspect, select

from server.cli import main
from server.db import make_engine, make_session_factory
from server.models import (
    Event,
    EventState,
    ScoreSplit,
    Submission,
    SubmissionScore,
    Team,
    User,
)
from server.passwords import new_password
from server.web.exports import spreadsheet_safe
from tests.kits.public_kit import write_public_kit


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch):
    """Runs ``deblend-ramp`` on the test database (settings from DEBLEND_RAMP_CONFIG)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'database_url = "{database_url}"\nvar_dir = "{tmp_path / "var"}"\nsecret_key = "t"\n'
    )
    monkeypatch.setenv("DEBLEND_RAMP_CONFIG", str(config))
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    assert run("init-db").exit_code == 0
    return run


@pytest.fixture
def session(cli, database_url):
    engine = make_engine(database_url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


def _event_args(tmp_path, name="school"):
    """create-event of a public-style kit whose public data lives in the kit folder."""
    kit, hidden = tmp_path / "kit", tmp_path / "hidden"
    if not kit.exists():
        write_public_kit(kit, hidden)
    return ["create-event", name, "--kit", str(kit), "--hidden-data", str(hidden)]


def test_init_db_creates_tables(cli, database_url):
    engine = make_engine(database_url)
    assert {"users", "events", "submissions", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
    assert cli("init-db").exit_code == 0  # a second run is a no-op


def test_create_open_close_event(cli, session, tmp_path):
    result = cli(*_event_args(tmp_path), "--gpu", "--min-gap", "60")
    # What the kit declares, read back to the instructor.
    assert "created event 'school' (draft) of 'Iris classification'" in result.output
    assert "a submission is estimator.py; scores acc, error, nll, f1_70 (official: acc)" in (
        result.output
    )
    event = session.scalars(select(Event)).one()
    assert (event.state, event.use_gpu, event.min_gap_seconds, event.title) == (
        EventState.DRAFT, True, 60, "Iris classification",
    )  # fmt: skip
    assert event.kit_dir == event.public_data_dir == str(tmp_path / "kit")
    assert event.timeout_seconds == 1800  # unset limits take the model's defaults
    cli("open-event", "school")
    session.expire_all()
    assert event.state == EventState.OPEN and event.opened_at is not None
    cli("close-event", "school")
    session.expire_all()
    assert event.state == EventState.CLOSED and event.closed_at is not None


def test_create_event_refuses_duplicate_and_nested_dirs(cli, tmp_path):
    cli(*_event_args(tmp_path))
    result = cli(*_event_args(tmp_path))
    assert result.exit_code == 1 and "event 'school' already exists" in result.output
    args = _event_args(tmp_path, "other")
    inside = tmp_path / "kit" / "data"  # the kit reaches students and sandboxes
    args[args.index("--hidden-data") + 1] = str(inside)
    result = cli(*args)
    assert result.exit_code == 1 and "must not be inside" in result.output


def test_create_event_refuses_a_kit_that_cannot_read_its_data(cli, tmp_path):
    args = _event_args(tmp_path)
    empty = tmp_path / "empty-hidden"
    empty.mkdir()
    args[args.index("--hidden-data") + 1] = str(empty)
    result = cli(*args)
    assert result.exit_code == 1
    assert "cannot read its data" in result.output and "test.csv" in result.output


def test_create_event_refuses_a_folder_without_problem_py(cli, tmp_path):
    (tmp_path / "not-a-kit").mkdir()
    (tmp_path / "hidden").mkdir()
    result = cli(
        "create-event", "x", "--kit", str(tmp_path / "not-a-kit"),
        "--hidden-data", str(tmp_path / "hidden"),
    )  # fmt: skip
    assert result.exit_code == 1 and "holds no problem.py" in result.output


def test_open_unknown_event_fails(cli):
    result = cli("open-event", "nowhere")
    assert result.exit_code == 1
    assert "no event named 'nowhere'" in result.output


def test_create_user_then_make_instructor(cli, session):
    result = cli("create-user", "Prof@Example.org", "--name", "Prof", "--password", "s3cret pass")
    assert result.exit_code == 0
    user = session.scalars(select(User)).one()
    assert user.email == "prof@example.org" and not user.is_instructor
    assert PasswordHasher().verify(user.password_hash, "s3cret pass")
    assert cli("make-instructor", "prof@example.org").exit_code == 0
    session.expire_all()
    assert user.is_instructor
    assert "no account for x@example.org" in cli("make-instructor", "x@example.org").output


def test_import_students_writes_one_time_passwords(cli, session, tmp_path):
    cli(*_event_args(tmp_path))
    roster = tmp_path / "students.csv"
    roster.write_text(
        "name,email,team\nAda,ada@example.org,Andromeda\nBob,BOB@example.org,Andromeda\n"
        "Cy,cy@example.org,Sombrero\n"
    )
    out = tmp_path / "passwords.csv"
    result = cli("import-students", str(roster), "--event", "school", "--out", str(out))
    assert "imported 3 students (3 new accounts)" in result.output
    rows = list(csv.DictReader(out.open()))
    assert [(r["email"], r["team"]) for r in rows] == [
        ("ada@example.org", "Andromeda"),
        ("bob@example.org", "Andromeda"),
        ("cy@example.org", "Sombrero"),
    ]
    users = {u.email: u for u in session.scalars(select(User))}
    for row in rows:
        user = users[row["email"]]
        assert user.must_change_password
        assert PasswordHasher().verify(user.password_hash, row["password"])
    teams = {t.name: sorted(m.user.name for m in t.members) for t in session.scalars(select(Team))}
    assert teams == {"Andromeda": ["Ada", "Bob"], "Sombrero": ["Cy"]}
    # A second import keeps the accounts and their passwords.
    again = tmp_path / "again.csv"
    result = cli("import-students", str(roster), "--event", "school", "--out", str(again))
    assert "(0 new accounts)" in result.output
    assert {r["password"] for r in csv.DictReader(again.open())} == {""}


def test_import_students_refuses_second_team(cli, session, tmp_path):
    cli(*_event_args(tmp_path))
    roster = tmp_path / "students.csv"
    roster.write_text(
        "name,email,team\nAda,ada@example.org,Andromeda\nAda,ada@example.org,Other\n"
    )
    out = tmp_path / "passwords.csv"
    result = cli("import-students", str(roster), "--event", "school", "--out", str(out))
    assert result.exit_code == 1
    assert "ada@example.org is already in team 'Andromeda', not 'Other'" in result.output
    assert session.scalars(select(User)).all() == []


def test_import_students_missing_column(cli, tmp_path):
    cli(*_event_args(tmp_path))
    roster = tmp_path / "students.csv"
    roster.write_text("name,mail\nAda,ada@example.org\n")
    out = tmp_path / "passwords.csv"
    result = cli("import-students", str(roster), "--event", "school", "--out", str(out))
    assert "the CSV lacks the column(s) email, team" in result.output


def test_export_results(cli, session, tmp_path):
    cli(*_event_args(tmp_path))
    event = session.scalars(select(Event)).one()
    team = Team(event_id=event.id, name="Andromeda")
    submission = Submission(event=event, team=team, name="unet", compute_seconds=12.0)
    session.add(submission)
    session.flush()
    for split, value in ((ScoreSplit.PUBLIC, 0.75), (ScoreSplit.PRIVATE, 0.625)):
        session.add(
            SubmissionScore(submission_id=submission.id, split=split, metric="acc", value=value)
        )
    session.commit()
    out = tmp_path / "results.csv"
    result = cli("export-results", "school", "--out", str(out))
    assert "wrote 1 submissions" in result.output
    [row] = list(csv.DictReader(out.open()))
    assert (row["team"], row["submission"], row["state"]) == ("Andromeda", "unet", "queued")
    assert (float(row["public_acc"]), float(row["private_acc"])) == (0.75, 0.625)


def test_create_event_keeps_the_public_submissions_named(cli, session, tmp_path):
    result = cli(*_event_args(tmp_path), "--public-submission", "starting_kit")
    assert result.exit_code == 0
    assert "reference submissions in the starting-kit zip: starting_kit" in result.output
    assert session.scalars(select(Event)).one().public_submissions == ["starting_kit"]


def test_create_event_without_public_submissions_gives_every_one(cli, session, tmp_path):
    result = cli(*_event_args(tmp_path))
    assert "reference submissions in the starting-kit zip: every one" in result.output
    assert session.scalars(select(Event)).one().public_submissions is None


def test_create_event_refuses_an_unknown_public_submission(cli, session, tmp_path):
    result = cli(*_event_args(tmp_path), "--public-submission", "unet")
    assert result.exit_code == 1
    assert "no reference submission 'unet'" in result.output
    assert "expected folder names among logistic, starting_kit" in result.output
    assert session.scalars(select(Event)).first() is None


def test_handed_out_passwords_reach_the_csv_as_written() -> None:
    """A one-time password is typed by a student from the CSV: no cell quoting may change it
    (a leading "-" is quoted against spreadsheet formulas)."""
    for _ in range(2000):
        password = new_password()
        assert spreadsheet_safe(password) == password
        assert len(password) >= 12
