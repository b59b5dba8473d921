"""Flexmail interest labels: label members, the removal backlog, imports, the shared rate bucket.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Written out by hand and frozen like 0001 (no imports from include/). Adds:

* ``flexmail_label_member``: who carries each interest label by our doing (pending while the import
  that added it runs), with the address needed to remove it later;
* ``flexmail_removal``: the persisted removal backlog, worked across runs in order of urgency;
* ``flexmail_import``: the contacts imports and their reports;
* ``flexmail_rate_bucket``: the account's token bucket, shared by every task of the deployment.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.String(length=64)
EMAIL = sa.String(length=320)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "flexmail_label_member",
        sa.Column(
            "label_name",
            sa.String(length=255),
            nullable=False,
            comment="interest label name = platform list id",
        ),
        sa.Column("member_id", ID, nullable=False, comment="CRM entity id"),
        sa.Column(
            "email", EMAIL, nullable=False, comment="address imported: needed to remove the label later"
        ),
        sa.Column(
            "import_id", sa.String(length=64), nullable=True, comment="the import that added the label"
        ),
        sa.Column(
            "confirmed",
            sa.Boolean(),
            server_default="0",
            nullable=False,
            comment="the import completed; false = pending (counts as carried for removals)",
        ),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("label_name", "member_id", name="pk_flexmail_label_member"),
    )
    op.create_index("ix_flexmail_label_member_import_id", "flexmail_label_member", ["import_id"])
    op.create_table(
        "flexmail_removal",
        sa.Column("label_name", sa.String(length=255), nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("email", EMAIL, nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True, comment="Flexmail contact id once looked up"),
        sa.Column(
            "urgency",
            sa.Integer(),
            nullable=False,
            comment="0 consent revoked/unsubscribed/bounced, 1 left selection",
        ),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("enqueued_at", TIMESTAMP, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("label_name", "member_id", name="pk_flexmail_removal"),
    )
    op.create_index("ix_flexmail_removal_urgency_enqueued_at", "flexmail_removal", ["urgency", "enqueued_at"])
    op.create_index("ix_flexmail_removal_email", "flexmail_removal", ["email"])
    op.create_table(
        "flexmail_import",
        sa.Column(
            "import_id",
            sa.String(length=64),
            nullable=False,
            comment="our id of the Flexmail contacts import",
        ),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column(
            "status", sa.String(length=16), nullable=False, comment="building | queued | completed | failed"
        ),
        sa.Column("chunks_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("records_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("report", sa.JSON(), nullable=True, comment="{total_added, total_updated, total_ignored}"),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("import_id", name="pk_flexmail_import"),
    )
    op.create_table(
        "flexmail_rate_bucket",
        sa.Column("bucket_key", sa.String(length=100), nullable=False, comment="e.g. flexmail:<account id>"),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False, comment="epoch seconds of the limiter's clock"),
        sa.PrimaryKeyConstraint("bucket_key", name="pk_flexmail_rate_bucket"),
    )


def downgrade() -> None:
    op.drop_table("flexmail_rate_bucket")
    op.drop_table("flexmail_import")
    op.drop_index("ix_flexmail_removal_email", table_name="flexmail_removal")
    op.drop_index("ix_flexmail_removal_urgency_enqueued_at", table_name="flexmail_removal")
    op.drop_table("flexmail_removal")
    op.drop_index("ix_flexmail_label_member_import_id", table_name="flexmail_label_member")
    op.drop_table("flexmail_label_member")
