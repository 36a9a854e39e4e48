"""Account security: session versions, look-alike team names, the per-team upload lock.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.names import name_key

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_KEY_INDEX = "uq_teams_event_id_name_key"


def _fill_name_keys() -> None:
    """Keys of the teams already there; look-alike names that already coexist keep both teams.

    Such a pair gets its team id appended to the second key (the names shown stay as they
    are), and is printed so that an instructor can rename one of them.
    """
    connection = op.get_bind()
    teams = sa.table(
        "teams", sa.column("id"), sa.column("event_id"), sa.column("name"), sa.column("name_key")
    )
    seen: set[tuple[int, str]] = set()
    rows = connection.execute(sa.select(teams.c.id, teams.c.event_id, teams.c.name).order_by("id"))
    for team_id, event_id, name in rows.all():
        key = name_key(name)
        if (event_id, key) in seen:
            print(f"team {team_id} {name!r} looks like another team of its event: rename one")
            key = f"{key} #{team_id}"
        seen.add((event_id, key))
        connection.execute(sa.update(teams).where(teams.c.id == team_id).values(name_key=key))


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX, no batch copy: on SQLite a copied table is dropped, and
    # with foreign keys on, dropping teams would delete every team's members and submissions.
    op.add_column(
        "users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
    )
    # NOT NULL needs a default for the rows already there; _fill_name_keys replaces it.
    op.add_column(
        "teams",
        sa.Column("name_key", sa.String(length=300), nullable=False, server_default=""),
    )
    op.add_column("teams", sa.Column("last_submission_at", sa.DateTime(timezone=True)))
    _fill_name_keys()
    op.create_index(NAME_KEY_INDEX, "teams", ["event_id", "name_key"], unique=True)


def downgrade() -> None:
    op.drop_index(NAME_KEY_INDEX, table_name="teams")
    op.drop_column("teams", "last_submission_at")
    op.drop_column("teams", "name_key")
    op.drop_column("users", "session_version")
