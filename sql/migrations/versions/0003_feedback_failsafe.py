"""Feedback fail-safe: held people whose rejected feedback row names them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Written out by hand and frozen like 0001 (no imports from include/). Adds ``crm_feedback_hold``:
a bounce or unsubscribe row that could not be applied but names a CRM entity (by id or address)
holds that entity out of every list until an operator resolves the hold.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(length=64)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crm_feedback_hold",
        sa.Column("hold_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_id", ID, nullable=False, comment="the CRM entity the rejected row names"),
        sa.Column(
            "email_normalized",
            sa.String(length=320),
            nullable=True,
            comment="the address it names, if it was named by address",
        ),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False, comment="line of the rejected row in that file"),
        sa.Column("reason", sa.Text(), nullable=False, comment="why the row was rejected"),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True, comment="NULL = the person is held"),
        sa.Column("resolved_by", sa.String(length=200), nullable=True, comment="who resolved it, and how"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file_ledger.file_id"], name="fk_crm_feedback_hold_file_id_file_ledger"
        ),
        sa.PrimaryKeyConstraint("hold_id", name="pk_crm_feedback_hold"),
        sa.UniqueConstraint("file_id", "line_no", "entity_id", name="uq_crm_feedback_hold_file_id"),
    )
    op.create_index("ix_crm_feedback_hold_entity_id", "crm_feedback_hold", ["entity_id"])


def downgrade() -> None:
    op.drop_table("crm_feedback_hold")
