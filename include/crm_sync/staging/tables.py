"""The CRM staging schema as SQLAlchemy Core tables: the single source of truth for code.

The database itself is only ever changed by the Alembic migrations in ``sql/migrations``; a test
checks that migrating an empty database yields exactly this metadata. Tables fall in four groups:

* CRM model: ``crm_entity``, ``crm_consent_type``, ``crm_consent``, ``crm_marketing_list``,
  ``crm_marketing_list_member``, ``crm_blocklist``.
* Feedback received from the platform: ``feedback_bounce``, ``feedback_unsubscribe`` (each row
  keeps the ledger file it came from), ``file_ledger``, ``rejected_row``, ``export_watermark``.
* Sync audit: ``sync_run``, ``list_run``, ``list_snapshot`` (the frozen recipients of one list
  run), ``list_batch`` (one row per addAll3 batch with every recipient's result code) and
  ``list_rejected`` (recipients the platform refused, with their code).

Naming: ``entity_id`` is the CRM's stable id and is what we upload as the platform's recipient
id. ``email_normalized`` is ``lower(trim(email))``: every comparison of addresses uses it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from include.crm_sync.staging.types import UTCDateTime

# Deterministic constraint names so migrations and metadata agree on both dialects.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)
EMAIL = String(320)
# Nullable JSON columns store Python None as SQL NULL. Plain JSON would store the JSON text 'null',
# which `IS NULL` does not match -- a quiet trap for any query that looks for "not set yet".
NULLABLE_JSON = JSON(none_as_null=True)

# --------------------------------------------------------------------------- CRM model

crm_entity = Table(
    "crm_entity",
    metadata,
    Column("entity_id", ID, primary_key=True, comment="stable CRM id, uploaded as recipient id"),
    Column("entity_type", String(16), nullable=False, comment="contact | lead | account"),
    Column("email", EMAIL, nullable=True, comment="as entered in the CRM"),
    Column("email_normalized", EMAIL, nullable=True, comment="lower(trim(email))"),
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("company_name", String(200), nullable=True),
    Column("language", String(8), nullable=True),
    Column("city", String(200), nullable=True),
    Column("country", String(2), nullable=True),
    Column("attributes", NULLABLE_JSON, nullable=True, comment="further CRM fields, free form"),
    Column("is_bounced", Boolean, nullable=False, default=False, server_default="0"),
    Column("bounced_at", UTCDateTime, nullable=True),
    Column("bounce_category", String(32), nullable=True, comment="hardbounce | overflow"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_crm_entity_email_normalized", crm_entity.c.email_normalized)

crm_consent_type = Table(
    "crm_consent_type",
    metadata,
    Column("consent_id", ID, primary_key=True, comment="e.g. newsletter; one per list"),
    Column("name", String(200), nullable=False),
    Column(
        "is_marketing",
        Boolean,
        nullable=False,
        default=True,
        server_default="1",
        comment="a global unsubscribe revokes every marketing consent",
    ),
)

crm_consent = Table(
    "crm_consent",
    metadata,
    Column("entity_id", ID, ForeignKey("crm_entity.entity_id"), primary_key=True),
    Column("consent_id", ID, ForeignKey("crm_consent_type.consent_id"), primary_key=True),
    Column("status", String(16), nullable=False, comment="granted | revoked"),
    Column("granted_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("source", String(200), nullable=False, comment="crm, or the feedback file that revoked it"),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_crm_consent_consent_id_status", crm_consent.c.consent_id, crm_consent.c.status)

crm_marketing_list = Table(
    "crm_marketing_list",
    metadata,
    Column("list_key", ID, primary_key=True, comment="marketing list / report key used by selections"),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
)

crm_marketing_list_member = Table(
    "crm_marketing_list_member",
    metadata,
    Column("list_key", ID, ForeignKey("crm_marketing_list.list_key"), primary_key=True),
    Column("entity_id", ID, ForeignKey("crm_entity.entity_id"), primary_key=True),
)
Index("ix_crm_marketing_list_member_entity_id", crm_marketing_list_member.c.entity_id)

crm_blocklist = Table(
    "crm_blocklist",
    metadata,
    Column(
        "email_normalized",
        EMAIL,
        primary_key=True,
        comment="address, or pattern with * and ? as on the platform",
    ),
    Column("is_pattern", Boolean, nullable=False, default=False, server_default="0"),
    Column("reason", String(200), nullable=True),
    Column("source", String(200), nullable=False, comment="platform refusal (code 3), import, ..."),
    Column("added_at", UTCDateTime, nullable=False),
)

# --------------------------------------------------------------------------- feedback

file_ledger = Table(
    "file_ledger",
    metadata,
    Column("file_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False, comment="bounces | unsubscribes | responses"),
    Column("file_name", String(300), nullable=False, unique=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source", String(300), nullable=True, comment="e.g. soap:getResponses or sftp:/out/x.csv"),
    Column("window_since", UTCDateTime, nullable=True),
    Column("window_until", UTCDateTime, nullable=True),
    Column("run_id", String(250), nullable=True),
    Column("status", String(16), nullable=False, comment="received | applied | failed | duplicate"),
    Column("rows_read", Integer, nullable=True),
    Column("rows_applied", Integer, nullable=True),
    Column("rows_known", Integer, nullable=True, comment="valid rows whose effect was already in the CRM"),
    Column("rows_rejected", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("applied_at", UTCDateTime, nullable=True),
)
Index("ix_file_ledger_kind_sha256", file_ledger.c.kind, file_ledger.c.sha256)

rejected_row = Table(
    "rejected_row",
    metadata,
    Column("rejected_id", Integer, primary_key=True, autoincrement=True),
    Column("file_id", Integer, ForeignKey("file_ledger.file_id"), nullable=False),
    Column("line_no", Integer, nullable=False, comment="1-based line in the file, header = 1"),
    Column("field", String(100), nullable=True),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=True),
)
Index("ix_rejected_row_file_id", rejected_row.c.file_id)

feedback_bounce = Table(
    "feedback_bounce",
    metadata,
    Column("bounce_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "event_key",
        String(64),
        nullable=False,
        unique=True,
        comment="hash of the normalised event: the same bounce twice is stored once",
    ),
    Column("file_id", Integer, ForeignKey("file_ledger.file_id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("recipient_id", ID, nullable=True),
    Column("email_normalized", EMAIL, nullable=True),
    Column("entity_id", ID, nullable=True, comment="matched CRM entity, if any"),
    Column("category", String(32), nullable=False, comment="hardbounce | softbounce | overflow"),
    Column("platform_list_id", String(64), nullable=True),
    Column("mailing_id", String(64), nullable=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)
Index("ix_feedback_bounce_email_normalized", feedback_bounce.c.email_normalized)

feedback_unsubscribe = Table(
    "feedback_unsubscribe",
    metadata,
    Column("unsubscribe_id", Integer, primary_key=True, autoincrement=True),
    Column("event_key", String(64), nullable=False, unique=True),
    Column("file_id", Integer, ForeignKey("file_ledger.file_id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("recipient_id", ID, nullable=True),
    Column("email_normalized", EMAIL, nullable=True),
    Column("entity_id", ID, nullable=True),
    Column("platform_list_id", String(64), nullable=True),
    Column(
        "consent_id",
        ID,
        nullable=True,
        comment="consent of the list it came from; NULL = every marketing consent",
    ),
    Column("mailing_id", String(64), nullable=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)
Index("ix_feedback_unsubscribe_email_normalized", feedback_unsubscribe.c.email_normalized)

export_watermark = Table(
    "export_watermark",
    metadata,
    Column("export_name", String(100), primary_key=True, comment="e.g. optimizely:bounces"),
    Column("watermark", UTCDateTime, nullable=False, comment="platform time up to which all is applied"),
    Column("last_success_at", UTCDateTime, nullable=False),
    Column("last_file_id", Integer, ForeignKey("file_ledger.file_id"), nullable=True),
)

# --------------------------------------------------------------------------- sync audit

sync_run = Table(
    "sync_run",
    metadata,
    Column("run_id", String(250), primary_key=True, comment="Airflow run id, or a CLI-made id"),
    Column("dag_id", String(250), nullable=True),
    Column("dry_run", Boolean, nullable=False, default=False, server_default="0"),
    Column("forced", Boolean, nullable=False, default=False, server_default="0"),
    Column(
        "feedback_ok",
        Boolean,
        nullable=False,
        default=False,
        server_default="0",
        comment="the feedback import of this run succeeded; refills require it",
    ),
    Column("status", String(16), nullable=False, comment="running | success | failed"),
    Column("summary", NULLABLE_JSON, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
)

#: this run's feedback import of this platform succeeded (a row = yes). Extraction, refill,
#: membership sync and label sync check their own platform's row, so one platform's failed feedback
#: stops only that platform's lists. Migration 0010.
sync_run_platform_feedback = Table(
    "sync_run_platform_feedback",
    metadata,
    Column("run_id", String(250), ForeignKey("sync_run.run_id"), primary_key=True),
    Column("platform", String(32), primary_key=True),
    Column(
        "succeeded_at",
        UTCDateTime,
        nullable=False,
        comment="when this run's feedback import of the platform succeeded",
    ),
)

list_run = Table(
    "list_run",
    metadata,
    Column("list_run_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(250), ForeignKey("sync_run.run_id"), nullable=False),
    Column("list_name", String(200), nullable=False),
    Column("platform", String(32), nullable=False),
    # Canonical (config/ids.py); 255: a Spotler audience external id may be that long.
    Column("platform_list_id", String(255), nullable=False),
    Column("optin_process_id", String(64), nullable=False),
    Column("consent_id", ID, nullable=False),
    Column("attribute_names", JSON, nullable=False, comment="order of list_snapshot.attr_values"),
    Column(
        "status",
        String(24),
        nullable=False,
        comment=(
            "extracting | extracted | validated | invalid | guarded | refilling | synced | failed | dry_run"
        ),
    ),
    Column("selected", Integer, nullable=True, comment="rows the selection returned"),
    Column("excluded", NULLABLE_JSON, nullable=True, comment="{reason: count}"),
    Column("snapshot_rows", Integer, nullable=True),
    Column("validation", NULLABLE_JSON, nullable=True, comment="expectation results in plain words"),
    Column("guard", NULLABLE_JSON, nullable=True, comment="guard checks, and whether forced past"),
    Column("uploaded", Integer, nullable=True),
    Column("accepted", Integer, nullable=True, comment="codes 0 and 5"),
    Column("result_codes", NULLABLE_JSON, nullable=True, comment="{code: count}"),
    Column("rejected", Integer, nullable=True),
    Column("platform_count", Integer, nullable=True, comment="getCount after the refill"),
    Column("cleared_at", UTCDateTime, nullable=True),
    Column("last_batch_at", UTCDateTime, nullable=True),
    Column("window_seconds", Integer, nullable=True, comment="empty-list window, clear to last batch"),
    Column("error", Text, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    # Membership and label sync only (migration 0012); NULL for a refill list.
    Column(
        "added", Integer, nullable=True, comment="membership: members added to the platform list (confirmed)"
    ),
    Column(
        "removed",
        Integer,
        nullable=True,
        comment="membership: members removed from the platform list (confirmed)",
    ),
    Column(
        "unchanged",
        Integer,
        nullable=True,
        comment="membership: snapshot members already in the platform list",
    ),
    Column(
        "refused",
        NULLABLE_JSON,
        nullable=True,
        comment="membership: contacts the platform refused, {platform code: count}",
    ),
    Column(
        "backlog",
        Integer,
        nullable=True,
        comment="label sync: removals of this list's label still queued after the run",
    ),
    UniqueConstraint("run_id", "list_name", name="uq_list_run_run_id_list_name"),
)
Index("ix_list_run_list_name_status", list_run.c.list_name, list_run.c.status)
# The volume guard's baseline: a platform list's recent synced runs, whatever the list is called.
Index("ix_list_run_platform_list_status", list_run.c.platform, list_run.c.platform_list_id, list_run.c.status)

list_snapshot = Table(
    "list_snapshot",
    metadata,
    Column("list_run_id", Integer, ForeignKey("list_run.list_run_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False, comment="upload order, 0-based"),
    Column("recipient_id", ID, nullable=False),
    Column("email", EMAIL, nullable=False, comment="normalised address as uploaded"),
    Column("attr_values", JSON, nullable=False, comment="ordered like list_run.attribute_names"),
    UniqueConstraint("list_run_id", "recipient_id", name="uq_list_snapshot_list_run_id_recipient_id"),
    UniqueConstraint("list_run_id", "email", name="uq_list_snapshot_list_run_id_email"),
    # PostgreSQL (migration 0012): one partition per list run, list_snapshot_run_<id>, loaded bare
    # and attached by the extraction (extract/partitions.py); list_snapshot_default takes rows
    # inserted for a run without a partition of its own (tools, tests).
    postgresql_partition_by="LIST (list_run_id)",
)

list_batch = Table(
    "list_batch",
    metadata,
    Column("list_run_id", Integer, ForeignKey("list_run.list_run_id"), primary_key=True),
    Column("batch_no", Integer, primary_key=True, autoincrement=False),
    Column("first_seq", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column(
        "codes",
        Text,
        nullable=False,
        comment="one digit per recipient in seq order: every recipient's result, compactly",
    ),
    Column("accepted", Integer, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=False),
)

list_rejected = Table(
    "list_rejected",
    metadata,
    Column("list_run_id", Integer, ForeignKey("list_run.list_run_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("recipient_id", ID, nullable=False),
    Column("code", Integer, nullable=False),
    Column("reason", String(100), nullable=False),
)

# --------------------------------------------------------------------------- response data (step 4)
# Response files fetched over SFTP (``include/crm_sync/responses``): every distinct event once in
# ``response_event`` (with what became of it), opens/clicks of mailings that map to a CRM campaign
# (``mailing_campaign``) as ``crm_campaign_response``; bounces and unsubscribes go through the
# feedback apply into ``feedback_bounce``/``feedback_unsubscribe``. Migration 0002.

file_ledger.append_column(
    Column(
        "rows_ignored",
        Integer,
        nullable=True,
        comment="valid rows deliberately not applied (opens/clicks without CRM campaign, autoresponders)",
    )
)

response_event = Table(
    "response_event",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "event_key",
        String(64),
        nullable=False,
        unique=True,
        comment="sha256 of recipient, mailing, event type and time: the same event is stored once",
    ),
    Column(
        "file_id",
        Integer,
        ForeignKey("file_ledger.file_id"),
        nullable=False,
        comment="the response file it first arrived in",
    ),
    Column("line_no", Integer, nullable=False),
    Column("recipient_id", ID, nullable=False),
    Column("entity_type", String(16), nullable=True, comment="as the platform knows it, if it does"),
    Column("entity_id", ID, nullable=True, comment="as the platform knows it, if it does"),
    Column("crm_entity_id", ID, nullable=True, comment="matched CRM entity; NULL = unknown recipient"),
    Column("platform_list_id", String(64), nullable=True),
    Column("mailing_id", String(64), nullable=True),
    Column(
        "event_type",
        String(16),
        nullable=False,
        comment="open | click | hardbounce | softbounce | unsubscribe | autoresponder",
    ),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("link_url", String(2000), nullable=True),
    Column(
        "status",
        String(24),
        nullable=False,
        comment="applied | ignored_no_campaign | ignored_autoresponder | unknown_recipient",
    ),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_response_event_status_mailing_id", response_event.c.status, response_event.c.mailing_id)

mailing_campaign = Table(
    "mailing_campaign",
    metadata,
    Column("mailing_id", String(64), primary_key=True, comment="platform mailing id"),
    Column("crm_campaign_id", ID, nullable=False),
    Column(
        "source",
        String(16),
        nullable=False,
        comment="config (config/response_import.yaml) | closed_loop (wave id in the response file)",
    ),
    Column("updated_at", UTCDateTime, nullable=False),
)

crm_campaign_response = Table(
    "crm_campaign_response",
    metadata,
    Column("response_id", Integer, primary_key=True, autoincrement=True),
    Column("event_key", String(64), nullable=False, unique=True, comment="= response_event.event_key"),
    Column("crm_campaign_id", ID, nullable=False),
    Column("entity_id", ID, ForeignKey("crm_entity.entity_id"), nullable=False),
    Column("response_type", String(16), nullable=False, comment="open | click"),
    Column("mailing_id", String(64), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("link_url", String(2000), nullable=True),
    Column("file_id", Integer, ForeignKey("file_ledger.file_id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index(
    "ix_crm_campaign_response_crm_campaign_id_entity_id",
    crm_campaign_response.c.crm_campaign_id,
    crm_campaign_response.c.entity_id,
)

# --------------------------------------------------------------------------- writers (issue 12)
# One writer per platform list (and per platform's feedback import) at a time: a lock row with a
# lease (``include/crm_sync/sync/writer_lock.py``). Migration 0004.

writer_lock = Table(
    "writer_lock",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("resource", String(300), primary_key=True, comment="list:<platform list id> | feedback"),
    Column(
        "owner",
        String(300),
        nullable=False,
        comment="who may take it over at once (a retry of the same list run or run)",
    ),
    Column("holder", String(500), nullable=False, comment="the holder in plain words (run, list, list run)"),
    Column("token", String(32), nullable=False, comment="this acquisition; renewals and release must match"),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("renewed_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, comment="a holder that stops renewing loses it then"),
)
# --------------------------------------------------------------------------- feedback fail-safe (0003)
# A feedback or response row that could not be applied but names a person the CRM knows (by entity
# id or address) holds that person: every extraction leaves them out (reason ``feedback_held``)
# until an operator resolves the hold (``python -m include.crm_sync.feedback.holds``). Migration 0003.

crm_feedback_hold = Table(
    "crm_feedback_hold",
    metadata,
    Column("hold_id", Integer, primary_key=True, autoincrement=True),
    Column("entity_id", ID, nullable=False, comment="the CRM entity the rejected row names"),
    Column(
        "email_normalized", EMAIL, nullable=True, comment="the address it names, if it was named by address"
    ),
    Column("file_id", Integer, ForeignKey("file_ledger.file_id"), nullable=False),
    Column("line_no", Integer, nullable=False, comment="line of the rejected row in that file"),
    Column("reason", Text, nullable=False, comment="why the row was rejected"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True, comment="NULL = the person is held"),
    Column("resolved_by", String(200), nullable=True, comment="who resolved it, and how"),
    UniqueConstraint("file_id", "line_no", "entity_id", name="uq_crm_feedback_hold_file_id"),
)
Index("ix_crm_feedback_hold_entity_id", crm_feedback_hold.c.entity_id)
# --------------------------------------------------------------------------- membership sync (Spotler, ...)
# Platforms that keep a list themselves (membership sync, include/crm_sync/sync/membership.py): what we
# put on each platform list, written ONLY from confirmed platform answers, and one sync-state row per
# platform list (a row left 'in_progress' is a crashed run: the next run empties and refills). No
# addresses are stored here: the snapshot holds them. Migration 0006.

platform_membership = Table(
    "platform_membership",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("platform_list_id", String(255), primary_key=True),
    Column("member_id", ID, primary_key=True, comment="the contact's id on the platform = CRM entity id"),
    Column(
        "in_audience",
        Boolean,
        nullable=False,
        default=False,
        server_default="0",
        comment="a confirmed add (and no confirmed removal since)",
    ),
    Column(
        "fields_hash",
        String(64),
        nullable=True,
        comment="sha256 of the fields of the last confirmed upsert; NULL = upload again",
    ),
    Column("upsert_code", String(32), nullable=True, comment="platform's answer to that upsert, e.g. OK"),
    Column("upserted_at", UTCDateTime, nullable=True),
    Column("confirmed_at", UTCDateTime, nullable=False, comment="last confirmed change of this row"),
)

platform_list_sync = Table(
    "platform_list_sync",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("platform_list_id", String(255), primary_key=True),
    Column("status", String(16), nullable=False, comment="in_progress (a write may be unconfirmed) | synced"),
    Column(
        "list_run_id",
        Integer,
        ForeignKey("list_run.list_run_id"),
        nullable=True,
        comment="the list run being / last synced",
    ),
    Column(
        "members",
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        comment="members in the platform list after the last completed sync",
    ),
    Column("mode", String(16), nullable=True, comment="incremental | full (empty + add all)"),
    Column("reason", Text, nullable=True, comment="why the last sync was full"),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
)

# --------------------------------------------------------------------------- Flexmail interest labels
# Flexmail adds labels through ONE contacts import for all its lists and removes them one contact
# at a time under a ~60 requests/minute account limit, so it has its own record
# (include/crm_sync/sync/label_sync.py): who carries each label (pending while their import runs),
# the persisted removal backlog worked across runs in order of urgency, the imports, and the
# shared token bucket of the account's rate limit. Migration 0009.

flexmail_label_member = Table(
    "flexmail_label_member",
    metadata,
    Column("label_name", String(255), primary_key=True, comment="interest label name = platform list id"),
    Column("member_id", ID, primary_key=True, comment="CRM entity id"),
    Column("email", EMAIL, nullable=False, comment="address imported: needed to remove the label later"),
    Column("import_id", String(64), nullable=True, comment="the import that added the label"),
    Column(
        "confirmed",
        Boolean,
        nullable=False,
        default=False,
        server_default="0",
        comment="the import completed; false = pending (counts as carried for removals)",
    ),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_flexmail_label_member_import_id", flexmail_label_member.c.import_id)

flexmail_removal = Table(
    "flexmail_removal",
    metadata,
    Column("label_name", String(255), primary_key=True),
    Column("member_id", ID, primary_key=True),
    Column("email", EMAIL, nullable=False),
    Column("contact_id", BigInteger, nullable=True, comment="Flexmail contact id once looked up"),
    Column(
        "urgency", Integer, nullable=False, comment="0 consent revoked/unsubscribed/bounced, 1 left selection"
    ),
    Column("reason", String(32), nullable=False),
    Column("enqueued_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
)
Index("ix_flexmail_removal_urgency_enqueued_at", flexmail_removal.c.urgency, flexmail_removal.c.enqueued_at)
Index("ix_flexmail_removal_email", flexmail_removal.c.email)

flexmail_import = Table(
    "flexmail_import",
    metadata,
    Column("import_id", String(64), primary_key=True, comment="our id of the Flexmail contacts import"),
    Column("run_id", String(250), nullable=False),
    Column("status", String(16), nullable=False, comment="building | queued | completed | failed"),
    Column("chunks_sent", Integer, nullable=False, default=0, server_default="0"),
    Column("records_sent", Integer, nullable=False, default=0, server_default="0"),
    Column("report", NULLABLE_JSON, nullable=True, comment="{total_added, total_updated, total_ignored}"),
    Column("message", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
)

flexmail_rate_bucket = Table(
    "flexmail_rate_bucket",
    metadata,
    Column("bucket_key", String(100), primary_key=True, comment="e.g. flexmail:<account id>"),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False, comment="epoch seconds of the limiter's clock"),
)
