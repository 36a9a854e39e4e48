"""Events name their ramp-workflow kit; score uncertainty and the kit's diagnostics.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 drops columns itself): no batch copy of ``events``,
    # whose drop would cascade to every team and submission of an existing SQLite database.
    # Events created before kits were named ran the deblending kit of this repository.
    op.add_column(
        "events", sa.Column("kit_dir", sa.String(500), nullable=False, server_default="ramp_kit")
    )
    op.add_column(
        "events",
        sa.Column(
            "hidden_split_seed",
            sa.Integer(),
            nullable=False,
            server_default=str(secrets.randbelow(2**31 - 1) + 1),
        ),
    )
    op.drop_column("events", "n_folds")
    op.add_column("submissions", sa.Column("diagnostics", sa.JSON(), nullable=True))
    op.add_column("submission_scores", sa.Column("std_error", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("submission_scores", "std_error")
    op.drop_column("submissions", "diagnostics")
    op.add_column("events", sa.Column("n_folds", sa.Integer(), nullable=False, server_default="1"))
    op.drop_column("events", "hidden_split_seed")
    op.drop_column("events", "kit_dir")
