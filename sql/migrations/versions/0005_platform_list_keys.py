"""List runs keyed by platform and canonical platform list id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Written out by hand and frozen like 0001 (no imports from include/). The volume guard now finds
a platform list's history by (platform, platform_list_id) instead of by list name, so:

* ``list_run.platform_list_id`` holds up to 255 characters (a Spotler audience external id may);
* index ``ix_list_run_platform_list_status`` on (platform, platform_list_id, status);
* Optimizely ids already stored are rewritten in their canonical form (``"01001"`` -> ``"1001"``,
  surrounding spaces dropped), so runs written under an old spelling stay in the list's history.
  Values that are not whole numbers are left as they were (nothing can be guessed about them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_INDEX = "ix_list_run_platform_list_status"


def _canonical_number(value: str, minimum: int) -> str | None:
    """Frozen copy of config/ids.py's rule for Optimizely ids: a whole number >= ``minimum``."""
    text = value.strip()
    if text.isascii() and text.isdigit() and int(text) >= minimum:
        return str(int(text))
    return None


def _canonicalise(column: str, minimum: int) -> None:
    list_run = sa.table("list_run", sa.column("platform", sa.String), sa.column(column, sa.String))
    bind = op.get_bind()
    stored = bind.execute(
        sa.select(list_run.c[column]).where(list_run.c.platform == "optimizely").distinct()
    ).scalars()
    for value in list(stored):
        canonical = _canonical_number(value, minimum)
        if canonical is not None and canonical != value:
            bind.execute(
                sa.update(list_run)
                .where(list_run.c.platform == "optimizely", list_run.c[column] == value)
                .values({column: canonical})
            )


def upgrade() -> None:
    with op.batch_alter_table("list_run") as batch:
        batch.alter_column(
            "platform_list_id",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
    _canonicalise("platform_list_id", minimum=1)
    _canonicalise("optin_process_id", minimum=0)
    op.create_index(_INDEX, "list_run", ["platform", "platform_list_id", "status"])


def downgrade() -> None:
    # The canonical spellings are kept: the original ones are not recorded anywhere.
    op.drop_index(_INDEX, table_name="list_run")
    with op.batch_alter_table("list_run") as batch:
        batch.alter_column(
            "platform_list_id",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
