"""One SQLAlchemy session per request, opened on first use and closed at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from server.db import make_engine, make_session_factory

_EXTENSION_KEY = "deblend_db"


def init_db(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[_EXTENSION_KEY] = make_session_factory(engine)
    app.teardown_appcontext(_close_db)


def get_db() -> Session:
    """The request's session."""
    if "db" not in g:
        g.db = current_app.extensions[_EXTENSION_KEY]()
    return g.db


def _close_db(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
