"""Membership sync: confirmed members per platform list, and a sync-state row per platform list.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Written out by hand and frozen like 0001 (no imports from include/). Adds:

* ``platform_membership``: per platform list, every member the sync put there (confirmed adds and
  removals only) and the hash of the fields last confirmed by an upsert;
* ``platform_list_sync``: per platform list, whether a sync is in progress (a crash leaves it so,
  and the next run empties and refills) and how many members the last completed sync left.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.String(length=64)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "platform_membership",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("platform_list_id", sa.String(length=64), nullable=False),
        sa.Column(
            "member_id", ID, nullable=False, comment="the contact's id on the platform = CRM entity id"
        ),
        sa.Column(
            "in_audience",
            sa.Boolean(),
            server_default="0",
            nullable=False,
            comment="a confirmed add (and no confirmed removal since)",
        ),
        sa.Column(
            "fields_hash",
            sa.String(length=64),
            nullable=True,
            comment="sha256 of the fields of the last confirmed upsert; NULL = upload again",
        ),
        sa.Column(
            "upsert_code",
            sa.String(length=32),
            nullable=True,
            comment="platform's answer to that upsert, e.g. OK",
        ),
        sa.Column("upserted_at", TIMESTAMP, nullable=True),
        sa.Column("confirmed_at", TIMESTAMP, nullable=False, comment="last confirmed change of this row"),
        sa.PrimaryKeyConstraint("platform", "platform_list_id", "member_id", name="pk_platform_membership"),
    )
    op.create_table(
        "platform_list_sync",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("platform_list_id", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="in_progress (a write may be unconfirmed) | synced",
        ),
        sa.Column("list_run_id", sa.Integer(), nullable=True, comment="the list run being / last synced"),
        sa.Column(
            "members",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="members in the platform list after the last completed sync",
        ),
        sa.Column(
            "mode", sa.String(length=16), nullable=True, comment="incremental | full (empty + add all)"
        ),
        sa.Column("reason", sa.Text(), nullable=True, comment="why the last sync was full"),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["list_run_id"], ["list_run.list_run_id"], name="fk_platform_list_sync_list_run_id_list_run"
        ),
        sa.PrimaryKeyConstraint("platform", "platform_list_id", name="pk_platform_list_sync"),
    )


def downgrade() -> None:
    op.drop_table("platform_list_sync")
    op.drop_table("platform_membership")
