"""Alembic environment: the models' metadata, and the URL given by ``server.cli.alembic_config``.

Run through ``deblend-ramp init-db``; for a new revision (after changing server/models.py):
``alembic -c server/alembic.ini revision --autogenerate -m "what changed"``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import server.models  # noqa: F401  (registers every table on Base.metadata)
from server.config import load_settings
from server.db import Base, make_engine
from server.models import UtcDateTime

config = context.config


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Revisions must not import the models: render the UTC type as its database type.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # A batch migration copies a table and drops the old one: with foreign keys on, the
        # drop would cascade to every row that refers to it.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # end the transaction the statement began: Alembic opens its own
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_item=_render_item,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # a caller (tests) lends its own connection
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("database_url") or load_settings()["DATABASE_URL"]
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run deblend-ramp init-db")
run_migrations()
