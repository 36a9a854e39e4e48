"""Fixtures of the web tests: an app on a fresh database, a client, users, events, teams.

The database is a SQLite file in ``tmp_path`` unless ``DEBLEND_TEST_DATABASE_URL`` names
another one (PostgreSQL): its ``public`` schema is then dropped and recreated for every test.
"""

from __future__ import annotations

import os
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

PASSWORD = "correct horse battery"
GOOD_SOURCE = """\
class Deblender:
    def fit(self, X, y):
        return self

    def predict(self, X):
        return X
"""


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
    """A small repository layout holding a starting kit."""
    root = tmp_path / "repo"
    (root / "starting_kit").mkdir(parents=True)
    (root / "starting_kit" / "deblending_starting_kit.ipynb").write_text("{}")
    (root / "ramp_kit").mkdir()
    (root / "ramp_kit" / "problem.py").write_text("title = 'deblending'\n")
    (root / "ramp_kit" / "__pycache__").mkdir()
    (root / "ramp_kit" / "__pycache__" / "problem.cpython-311.pyc").write_bytes(b"\0")
    (root / "ramp_kit" / "scoring").mkdir(parents=True, exist_ok=True)
    (root / "ramp_kit" / "scoring" / "central_iou.py").write_text("name = 'central_iou'\n")
    (root / "submissions" / "starting_kit").mkdir(parents=True)
    (root / "submissions" / "starting_kit" / "deblender.py").write_text(GOOD_SOURCE)
    return root


def make_test_app(database_url: str, tmp_path: Path, kit_root: Path, **extra: object) -> Flask:
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": False,
        "KIT_ROOT": str(kit_root),
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
    """A deblender.py that passes every check."""
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
def make_event(db: Session, tmp_path: Path) -> Callable[..., Event]:
    def make(name: str = "school", state: EventState = EventState.OPEN, **fields: object) -> Event:
        event = Event(
            name=name,
            title=f"Deblending at {name}",
            public_data_dir=str(tmp_path / "public"),
            hidden_data_dir=str(tmp_path / "hidden"),
            state=state,
            **fields,
        )
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
            files=[SubmissionFile(name="deblender.py", content=GOOD_SOURCE.encode(), sha256="0")],
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
