"""Fixtures of the web tests: an app on a fresh database, a client, users, events, teams.

The database is a SQLite file in ``tmp_path`` unless ``DEBLEND_TEST_DATABASE_URL`` names
another one (PostgreSQL): its ``public`` schema is then dropped and recreated for every test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from server.db import Base, make_engine
from server.models import (
    Event,
    EventState,
    Submission,
    SubmissionFile,
    Team,
    TeamMember,
    User,
    utcnow,
)
from server.states import SubmissionState
from server.web import create_app
from tests.kits.public_kit import ELEMENT_FILE, SUBMISSIONS, write_public_kit

PASSWORD = "correct horse battery"
GOOD_SOURCE = SUBMISSIONS["starting_kit"]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    url = os.environ.get("DEBLEND_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.sqlite'}"
    if not url.startswith("sqlite"):
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    yield url


@pytest.fixture
def kit_root(tmp_path: Path) -> Path:
    """A public-style ramp-workflow kit (tests/kits/public_kit.py): the events' kit folder.

    Its element file is ``estimator.py``; its scores are acc (official), error, nll, f1_70.
    """
    root = tmp_path / "kit"
    write_public_kit(root, tmp_path / "hidden")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "problem.cpython-311.pyc").write_bytes(b"\0")
    return root


def make_test_app(database_url: str, tmp_path: Path, kit_root: Path, **extra: object) -> Flask:
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": secrets.token_hex(32),  # random, as a real installation's
        "WTF_CSRF_ENABLED": False,
        "SUBMISSION_MAX_FILE_BYTES": 4096,
        "SUBMISSION_MAX_FILES": 2,
        "MAX_CONTENT_LENGTH": 64 * 1024,
    }
    config.update(extra)
    app = create_app(config)
    Base.metadata.create_all(_engine(app))
    return app


def _engine(app: Flask):  # noqa: ANN202
    return app.extensions["deblend_db"].kw["bind"]


@pytest.fixture
def app_factory(database_url: str, tmp_path: Path, kit_root: Path) -> Iterator[Callable]:
    """Builds apps on the test database with settings changed, e.g. WTF_CSRF_ENABLED=True."""
    apps: list[Flask] = []

    def make(**extra: object) -> Flask:
        apps.append(make_test_app(database_url, tmp_path, kit_root, **extra))
        return apps[-1]

    yield make
    for app in apps:
        _engine(app).dispose()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def good_source() -> str:
    """An estimator.py that passes every check."""
    return GOOD_SOURCE


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session of its own, as the dispatcher would have."""
    session = app.extensions["deblend_db"]()
    yield session
    session.close()


@pytest.fixture(scope="session")
def password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)  # hashed once: argon2 is slow on purpose


@pytest.fixture
def make_user(db: Session, password_hash: str) -> Callable[..., User]:
    def make(email: str = "ada@example.org", name: str = "Ada", instructor: bool = False) -> User:
        user = User(email=email, name=name, password_hash=password_hash, is_instructor=instructor)
        db.add(user)
        db.commit()
        return user

    return make


@pytest.fixture
def make_event(db: Session, tmp_path: Path, kit_root: Path) -> Callable[..., Event]:
    def make(name: str = "school", state: EventState = EventState.OPEN, **fields: object) -> Event:
        fields.setdefault("kit_dir", str(kit_root))
        fields.setdefault("public_data_dir", str(kit_root))
        fields.setdefault("hidden_data_dir", str(tmp_path / "hidden"))
        event = Event(name=name, title=f"Deblending at {name}", state=state, **fields)
        db.add(event)
        db.commit()
        return event

    return make


@pytest.fixture
def make_team(db: Session) -> Callable[..., Team]:
    def make(event: Event, *users: User, name: str = "Andromeda") -> Team:
        team = Team(event_id=event.id, name=name)
        db.add(team)
        db.flush()
        for user in users:
            db.add(TeamMember(event_id=event.id, team_id=team.id, user_id=user.id))
        db.commit()
        return team

    return make


@pytest.fixture
def make_submission(db: Session) -> Callable[..., Submission]:
    def make(
        team: Team,
        name: str = "first",
        age: timedelta = timedelta(hours=1),
        state: SubmissionState = SubmissionState.QUEUED,
        **fields: object,
    ) -> Submission:
        created: datetime = utcnow() - age
        submission = Submission(
            event_id=team.event_id,
            team_id=team.id,
            name=name,
            state=state,
            created_at=created,
            queued_at=created,
            files=[SubmissionFile(name=ELEMENT_FILE, content=GOOD_SOURCE.encode(), sha256="0")],
            **fields,
        )
        db.add(submission)
        db.commit()
        return submission

    return make


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, email: str = "ada@example.org", password: str = PASSWORD):  # noqa: ANN201
        return self._client.post("/auth/login", data={"email": email, "password": password})

    def logout(self):  # noqa: ANN201
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def student(make_user, make_event, make_team, auth) -> Team:  # noqa: ANN001
    """Ada, logged in, alone in team Andromeda of the open event "school"; returns the team."""
    user = make_user()
    team = make_team(make_event(), user)
    auth.login()
    return team


@pytest.fixture
def deblend_cli(
    app: Flask, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable:
    """Runs ``deblend-ramp`` on the test database (schema made by the ``app`` fixture)."""
    from click.testing import CliRunner

    from server.cli import main

    config = tmp_path / "cli-config.toml"
    config.write_text(f'database_url = "{database_url}"\nvar_dir = "{tmp_path / "var"}"\n')
    monkeypatch.setenv("DEBLEND_RAMP_CONFIG", str(config))
    runner = CliRunner()

    def run(*args: str, input: str | None = None):  # noqa: ANN202, A002
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return run
