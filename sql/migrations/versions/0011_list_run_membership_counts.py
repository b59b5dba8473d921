"""The run report's membership counts: added, removed, unchanged, refused per list run.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Written out by hand and frozen like 0001 (no imports from include/). A membership sync (Spotler,
Mailjet) and the Flexmail label sync change a platform list by adding and removing members, so
its report needs those counts, written from confirmed platform answers; until now they lived only
in the task's return value and the log. All nullable: a refill list (Optimizely) leaves them NULL
(its per-recipient codes are in ``result_codes``), and so do list runs recorded before this.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = (
    ("added", sa.Integer(), "membership: members added to the platform list (confirmed)"),
    ("removed", sa.Integer(), "membership: members removed from the platform list (confirmed)"),
    ("unchanged", sa.Integer(), "membership: snapshot members already in the platform list"),
    ("refused", sa.JSON(), "membership: contacts the platform refused, {platform code: count}"),
    ("backlog", sa.Integer(), "label sync: removals of this list's label still queued after the run"),
)


def upgrade() -> None:
    with op.batch_alter_table("list_run") as batch:
        for name, type_, comment in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True, comment=comment))


def downgrade() -> None:
    with op.batch_alter_table("list_run") as batch:
        for name, _, _ in reversed(COLUMNS):
            batch.drop_column(name)
