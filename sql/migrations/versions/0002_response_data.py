"""Response data over SFTP (step 4): response events, mailing -> CRM campaign map, campaign responses.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Written out by hand and frozen like 0001 (no imports from include/). Adds:

* ``file_ledger.rows_ignored``: valid rows of a file deliberately not applied (opens and clicks of
  mailings without a CRM campaign, autoresponders), so read = applied + known + ignored + rejected;
* ``response_event``: every distinct event of the response files once, with what became of it;
* ``mailing_campaign``: platform mailing id -> CRM campaign id (from config or closed-loop wave ids);
* ``crm_campaign_response``: opens and clicks kept as CRM campaign responses.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(length=64)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("file_ledger") as batch:
        batch.add_column(
            sa.Column(
                "rows_ignored",
                sa.Integer(),
                nullable=True,
                comment=(
                    "valid rows deliberately not applied (opens/clicks without CRM campaign, autoresponders)"
                ),
            )
        )

    op.create_table(
        "response_event",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "event_key",
            sa.String(length=64),
            nullable=False,
            comment="sha256 of recipient, mailing, event type and time: the same event is stored once",
        ),
        sa.Column("file_id", sa.Integer(), nullable=False, comment="the response file it first arrived in"),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("recipient_id", ID, nullable=False),
        sa.Column(
            "entity_type", sa.String(length=16), nullable=True, comment="as the platform knows it, if it does"
        ),
        sa.Column("entity_id", ID, nullable=True, comment="as the platform knows it, if it does"),
        sa.Column("crm_entity_id", ID, nullable=True, comment="matched CRM entity; NULL = unknown recipient"),
        sa.Column("platform_list_id", sa.String(length=64), nullable=True),
        sa.Column("mailing_id", sa.String(length=64), nullable=True),
        sa.Column(
            "event_type",
            sa.String(length=16),
            nullable=False,
            comment="open | click | hardbounce | softbounce | unsubscribe | autoresponder",
        ),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("link_url", sa.String(length=2000), nullable=True),
        sa.Column(
            "status",
            sa.String(length=24),
            nullable=False,
            comment="applied | ignored_no_campaign | ignored_autoresponder | unknown_recipient",
        ),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file_ledger.file_id"], name="fk_response_event_file_id_file_ledger"
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_response_event"),
        sa.UniqueConstraint("event_key", name="uq_response_event_event_key"),
    )
    op.create_index("ix_response_event_status_mailing_id", "response_event", ["status", "mailing_id"])

    op.create_table(
        "mailing_campaign",
        sa.Column("mailing_id", sa.String(length=64), nullable=False, comment="platform mailing id"),
        sa.Column("crm_campaign_id", ID, nullable=False),
        sa.Column(
            "source",
            sa.String(length=16),
            nullable=False,
            comment="config (config/response_import.yaml) | closed_loop (wave id in the response file)",
        ),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("mailing_id", name="pk_mailing_campaign"),
    )

    op.create_table(
        "crm_campaign_response",
        sa.Column("response_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False, comment="= response_event.event_key"),
        sa.Column("crm_campaign_id", ID, nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("response_type", sa.String(length=16), nullable=False, comment="open | click"),
        sa.Column("mailing_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("link_url", sa.String(length=2000), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["crm_entity.entity_id"], name="fk_crm_campaign_response_entity_id_crm_entity"
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file_ledger.file_id"], name="fk_crm_campaign_response_file_id_file_ledger"
        ),
        sa.PrimaryKeyConstraint("response_id", name="pk_crm_campaign_response"),
        sa.UniqueConstraint("event_key", name="uq_crm_campaign_response_event_key"),
    )
    op.create_index(
        "ix_crm_campaign_response_crm_campaign_id_entity_id",
        "crm_campaign_response",
        ["crm_campaign_id", "entity_id"],
    )


def downgrade() -> None:
    op.drop_table("crm_campaign_response")
    op.drop_table("mailing_campaign")
    op.drop_table("response_event")
    with op.batch_alter_table("file_ledger") as batch:
        batch.drop_column("rows_ignored")
