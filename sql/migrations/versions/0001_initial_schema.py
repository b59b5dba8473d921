"""Initial CRM staging schema: CRM model, feedback and ledger, sync audit.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written out by hand and frozen: it must not import the project's table metadata, or a later
change to ``tables.py`` would silently rewrite history. Types are the plain SQLAlchemy ones the
metadata compiles to (``UTCDateTime`` is ``DateTime(timezone=True)`` underneath), names follow the
metadata's naming convention, and a test compares the migrated database with the metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(length=64)
EMAIL = sa.String(length=320)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_crm_model()
    _create_feedback()
    _create_sync_audit()


def downgrade() -> None:
    # Children before parents, so foreign keys never point at a dropped table.
    for name in (
        "list_rejected",
        "list_batch",
        "list_snapshot",
        "list_run",
        "sync_run",
        "export_watermark",
        "feedback_unsubscribe",
        "feedback_bounce",
        "rejected_row",
        "file_ledger",
        "crm_blocklist",
        "crm_marketing_list_member",
        "crm_marketing_list",
        "crm_consent",
        "crm_consent_type",
        "crm_entity",
    ):
        op.drop_table(name)


def _create_crm_model() -> None:
    op.create_table(
        "crm_entity",
        sa.Column("entity_id", ID, nullable=False, comment="stable CRM id, uploaded as recipient id"),
        sa.Column("entity_type", sa.String(length=16), nullable=False, comment="contact | lead | account"),
        sa.Column("email", EMAIL, nullable=True, comment="as entered in the CRM"),
        sa.Column("email_normalized", EMAIL, nullable=True, comment="lower(trim(email))"),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True, comment="further CRM fields, free form"),
        sa.Column("is_bounced", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("bounced_at", TIMESTAMP, nullable=True),
        sa.Column("bounce_category", sa.String(length=32), nullable=True, comment="hardbounce | overflow"),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("entity_id", name="pk_crm_entity"),
    )
    op.create_index("ix_crm_entity_email_normalized", "crm_entity", ["email_normalized"])

    op.create_table(
        "crm_consent_type",
        sa.Column("consent_id", ID, nullable=False, comment="e.g. newsletter; one per list"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "is_marketing",
            sa.Boolean(),
            server_default="1",
            nullable=False,
            comment="a global unsubscribe revokes every marketing consent",
        ),
        sa.PrimaryKeyConstraint("consent_id", name="pk_crm_consent_type"),
    )

    op.create_table(
        "crm_consent",
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("consent_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="granted | revoked"),
        sa.Column("granted_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column(
            "source",
            sa.String(length=200),
            nullable=False,
            comment="crm, or the feedback file that revoked it",
        ),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["crm_entity.entity_id"], name="fk_crm_consent_entity_id_crm_entity"
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["crm_consent_type.consent_id"],
            name="fk_crm_consent_consent_id_crm_consent_type",
        ),
        sa.PrimaryKeyConstraint("entity_id", "consent_id", name="pk_crm_consent"),
    )
    op.create_index("ix_crm_consent_consent_id_status", "crm_consent", ["consent_id", "status"])

    op.create_table(
        "crm_marketing_list",
        sa.Column("list_key", ID, nullable=False, comment="marketing list / report key used by selections"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("list_key", name="pk_crm_marketing_list"),
    )

    op.create_table(
        "crm_marketing_list_member",
        sa.Column("list_key", ID, nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["list_key"],
            ["crm_marketing_list.list_key"],
            name="fk_crm_marketing_list_member_list_key_crm_marketing_list",
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["crm_entity.entity_id"],
            name="fk_crm_marketing_list_member_entity_id_crm_entity",
        ),
        sa.PrimaryKeyConstraint("list_key", "entity_id", name="pk_crm_marketing_list_member"),
    )
    op.create_index("ix_crm_marketing_list_member_entity_id", "crm_marketing_list_member", ["entity_id"])

    op.create_table(
        "crm_blocklist",
        sa.Column(
            "email_normalized",
            EMAIL,
            nullable=False,
            comment="address, or pattern with * and ? as on the platform",
        ),
        sa.Column("is_pattern", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column(
            "source",
            sa.String(length=200),
            nullable=False,
            comment="platform refusal (code 3), import, ...",
        ),
        sa.Column("added_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("email_normalized", name="pk_crm_blocklist"),
    )


def _create_feedback() -> None:
    op.create_table(
        "file_ledger",
        sa.Column("file_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False, comment="bounces | unsubscribes | responses"),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "source",
            sa.String(length=300),
            nullable=True,
            comment="e.g. soap:getResponses or sftp:/out/x.csv",
        ),
        sa.Column("window_since", TIMESTAMP, nullable=True),
        sa.Column("window_until", TIMESTAMP, nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column(
            "status", sa.String(length=16), nullable=False, comment="received | applied | failed | duplicate"
        ),
        sa.Column("rows_read", sa.Integer(), nullable=True),
        sa.Column("rows_applied", sa.Integer(), nullable=True),
        sa.Column(
            "rows_known",
            sa.Integer(),
            nullable=True,
            comment="valid rows whose effect was already in the CRM",
        ),
        sa.Column("rows_rejected", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("applied_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("file_id", name="pk_file_ledger"),
        sa.UniqueConstraint("file_name", name="uq_file_ledger_file_name"),
    )
    op.create_index("ix_file_ledger_kind_sha256", "file_ledger", ["kind", "sha256"])

    op.create_table(
        "rejected_row",
        sa.Column("rejected_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False, comment="1-based line in the file, header = 1"),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file_ledger.file_id"], name="fk_rejected_row_file_id_file_ledger"
        ),
        sa.PrimaryKeyConstraint("rejected_id", name="pk_rejected_row"),
    )
    op.create_index("ix_rejected_row_file_id", "rejected_row", ["file_id"])

    op.create_table(
        "feedback_bounce",
        sa.Column("bounce_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "event_key",
            sa.String(length=64),
            nullable=False,
            comment="hash of the normalised event: the same bounce twice is stored once",
        ),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("recipient_id", ID, nullable=True),
        sa.Column("email_normalized", EMAIL, nullable=True),
        sa.Column("entity_id", ID, nullable=True, comment="matched CRM entity, if any"),
        sa.Column(
            "category", sa.String(length=32), nullable=False, comment="hardbounce | softbounce | overflow"
        ),
        sa.Column("platform_list_id", sa.String(length=64), nullable=True),
        sa.Column("mailing_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file_ledger.file_id"], name="fk_feedback_bounce_file_id_file_ledger"
        ),
        sa.PrimaryKeyConstraint("bounce_id", name="pk_feedback_bounce"),
        sa.UniqueConstraint("event_key", name="uq_feedback_bounce_event_key"),
    )
    op.create_index("ix_feedback_bounce_email_normalized", "feedback_bounce", ["email_normalized"])

    op.create_table(
        "feedback_unsubscribe",
        sa.Column("unsubscribe_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("recipient_id", ID, nullable=True),
        sa.Column("email_normalized", EMAIL, nullable=True),
        sa.Column("entity_id", ID, nullable=True),
        sa.Column("platform_list_id", sa.String(length=64), nullable=True),
        sa.Column(
            "consent_id",
            ID,
            nullable=True,
            comment="consent of the list it came from; NULL = every marketing consent",
        ),
        sa.Column("mailing_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file_ledger.file_id"], name="fk_feedback_unsubscribe_file_id_file_ledger"
        ),
        sa.PrimaryKeyConstraint("unsubscribe_id", name="pk_feedback_unsubscribe"),
        sa.UniqueConstraint("event_key", name="uq_feedback_unsubscribe_event_key"),
    )
    op.create_index("ix_feedback_unsubscribe_email_normalized", "feedback_unsubscribe", ["email_normalized"])

    op.create_table(
        "export_watermark",
        sa.Column("export_name", sa.String(length=100), nullable=False, comment="e.g. optimizely:bounces"),
        sa.Column("watermark", TIMESTAMP, nullable=False, comment="platform time up to which all is applied"),
        sa.Column("last_success_at", TIMESTAMP, nullable=False),
        sa.Column("last_file_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_file_id"],
            ["file_ledger.file_id"],
            name="fk_export_watermark_last_file_id_file_ledger",
        ),
        sa.PrimaryKeyConstraint("export_name", name="pk_export_watermark"),
    )


def _create_sync_audit() -> None:
    op.create_table(
        "sync_run",
        sa.Column(
            "run_id", sa.String(length=250), nullable=False, comment="Airflow run id, or a CLI-made id"
        ),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.Column("dry_run", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("forced", sa.Boolean(), server_default="0", nullable=False),
        sa.Column(
            "feedback_ok",
            sa.Boolean(),
            server_default="0",
            nullable=False,
            comment="the feedback import of this run succeeded; refills require it",
        ),
        sa.Column("status", sa.String(length=16), nullable=False, comment="running | success | failed"),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_sync_run"),
    )

    op.create_table(
        "list_run",
        sa.Column("list_run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("platform_list_id", sa.String(length=64), nullable=False),
        sa.Column("optin_process_id", sa.String(length=64), nullable=False),
        sa.Column("consent_id", ID, nullable=False),
        sa.Column("attribute_names", sa.JSON(), nullable=False, comment="order of list_snapshot.attr_values"),
        sa.Column(
            "status",
            sa.String(length=24),
            nullable=False,
            comment=(
                "extracting | extracted | validated | invalid | guarded | refilling | synced | failed"
                " | dry_run"
            ),
        ),
        sa.Column("selected", sa.Integer(), nullable=True, comment="rows the selection returned"),
        sa.Column("excluded", sa.JSON(), nullable=True, comment="{reason: count}"),
        sa.Column("snapshot_rows", sa.Integer(), nullable=True),
        sa.Column("validation", sa.JSON(), nullable=True, comment="expectation results in plain words"),
        sa.Column("guard", sa.JSON(), nullable=True, comment="guard checks, and whether forced past"),
        sa.Column("uploaded", sa.Integer(), nullable=True),
        sa.Column("accepted", sa.Integer(), nullable=True, comment="codes 0 and 5"),
        sa.Column("result_codes", sa.JSON(), nullable=True, comment="{code: count}"),
        sa.Column("rejected", sa.Integer(), nullable=True),
        sa.Column("platform_count", sa.Integer(), nullable=True, comment="getCount after the refill"),
        sa.Column("cleared_at", TIMESTAMP, nullable=True),
        sa.Column("last_batch_at", TIMESTAMP, nullable=True),
        sa.Column(
            "window_seconds",
            sa.Integer(),
            nullable=True,
            comment="empty-list window, clear to last batch",
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["sync_run.run_id"], name="fk_list_run_run_id_sync_run"),
        sa.PrimaryKeyConstraint("list_run_id", name="pk_list_run"),
        sa.UniqueConstraint("run_id", "list_name", name="uq_list_run_run_id_list_name"),
    )
    op.create_index("ix_list_run_list_name_status", "list_run", ["list_name", "status"])

    op.create_table(
        "list_snapshot",
        sa.Column("list_run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False, comment="upload order, 0-based"),
        sa.Column("recipient_id", ID, nullable=False),
        sa.Column("email", EMAIL, nullable=False, comment="normalised address as uploaded"),
        sa.Column("attr_values", sa.JSON(), nullable=False, comment="ordered like list_run.attribute_names"),
        sa.ForeignKeyConstraint(
            ["list_run_id"], ["list_run.list_run_id"], name="fk_list_snapshot_list_run_id_list_run"
        ),
        sa.PrimaryKeyConstraint("list_run_id", "seq", name="pk_list_snapshot"),
        sa.UniqueConstraint("list_run_id", "recipient_id", name="uq_list_snapshot_list_run_id_recipient_id"),
        sa.UniqueConstraint("list_run_id", "email", name="uq_list_snapshot_list_run_id_email"),
    )

    op.create_table(
        "list_batch",
        sa.Column("list_run_id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column(
            "codes",
            sa.Text(),
            nullable=False,
            comment="one digit per recipient in seq order: every recipient's result, compactly",
        ),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["list_run_id"], ["list_run.list_run_id"], name="fk_list_batch_list_run_id_list_run"
        ),
        sa.PrimaryKeyConstraint("list_run_id", "batch_no", name="pk_list_batch"),
    )

    op.create_table(
        "list_rejected",
        sa.Column("list_run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recipient_id", ID, nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_run_id"], ["list_run.list_run_id"], name="fk_list_rejected_list_run_id_list_run"
        ),
        sa.PrimaryKeyConstraint("list_run_id", "seq", name="pk_list_rejected"),
    )
