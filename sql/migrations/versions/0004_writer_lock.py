"""One writer per platform list: lock rows with a lease.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Written out by hand and frozen like 0001 (no imports from include/). Adds ``writer_lock``: one row
per (platform, resource) -- ``list:<platform list id>`` for a refill, ``feedback`` for a platform's
feedback import -- naming its holder, with a lease (``expires_at``) the holder renews while it
works; a crashed holder stops renewing and loses it. A list run may also end as ``superseded``
(a newer validated snapshot of the same platform list exists): a new status value, no DDL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "writer_lock",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column(
            "resource", sa.String(length=300), nullable=False, comment="list:<platform list id> | feedback"
        ),
        sa.Column(
            "owner",
            sa.String(length=300),
            nullable=False,
            comment="who may take it over at once (a retry of the same list run or run)",
        ),
        sa.Column(
            "holder",
            sa.String(length=500),
            nullable=False,
            comment="the holder in plain words (run, list, list run)",
        ),
        sa.Column(
            "token",
            sa.String(length=32),
            nullable=False,
            comment="this acquisition; renewals and release must match",
        ),
        sa.Column("acquired_at", TIMESTAMP, nullable=False),
        sa.Column("renewed_at", TIMESTAMP, nullable=False),
        sa.Column(
            "expires_at", TIMESTAMP, nullable=False, comment="a holder that stops renewing loses it then"
        ),
        sa.PrimaryKeyConstraint("platform", "resource", name="pk_writer_lock"),
    )


def downgrade() -> None:
    op.drop_table("writer_lock")
