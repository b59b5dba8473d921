"""Feedback per platform: which platforms' feedback imports succeeded in a run.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Written out by hand and frozen like 0001 (no imports from include/). ``sync_run.feedback_ok`` was
one flag for the whole run, so one platform's failed feedback import stopped every platform's lists.
A row here says that THIS run's feedback import of THAT platform succeeded; extraction, refill,
membership sync and label sync check the row of their own platform. ``sync_run.feedback_ok`` stays
as the run-wide flag (every platform's feedback, set by tools that import all platforms at once).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_run_platform_feedback",
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column(
            "succeeded_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="when this run's feedback import of the platform succeeded",
        ),
        sa.ForeignKeyConstraint(["run_id"], ["sync_run.run_id"], name="fk_sync_run_platform_feedback_run"),
        sa.PrimaryKeyConstraint("run_id", "platform", name="pk_sync_run_platform_feedback"),
    )


def downgrade() -> None:
    op.drop_table("sync_run_platform_feedback")
