"""Events mark which reference submissions of their kit the starting-kit zip holds.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for existing events: their zip keeps every reference submission, as before.
    op.add_column("events", sa.Column("public_submissions", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("events", "public_submissions")
