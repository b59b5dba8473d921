"""Apply one landing file to the CRM staging tables: set-based, inside the caller's transaction.

Steps (SQL in ``sql/feedback/``): the structure check refuses a broken file before anything is
written; valid rows are bulk-loaded into ``tmp_feedback_stage`` and rejected rows into
``rejected_row``; then

1. duplicates within the file are marked (``mark_first``);
2. each event is matched to CRM entities by recipient id = entity id, else by normalised e-mail
   (every entity with that address); events matching nobody are kept with ``entity_id`` NULL and
   rejected as "unknown recipient";
3. events are stored once per (event, entity) (``row_key``), skipping those already stored by an
   overlapping window;
4. effects: hard bounce / overflow → ``crm_entity.is_bounced`` (first bounce wins; soft bounces
   are only stored); unsubscribe → the consent of the list it came from (``list_consents``) is
   revoked, or every marketing consent when the list is unknown. Entities and consents already
   in the target state are left untouched, so applying again changes nothing;
5. the counts are taken and must add up.

The caller owns the transaction (one per file), the ledger row and the watermark.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from include.crm_sync.feedback import stage
from include.crm_sync.feedback.counts import FeedbackCounts
from include.crm_sync.feedback.errors import CountMismatchError
from include.crm_sync.feedback.event_key import register_sqlite_functions
from include.crm_sync.feedback.load import DEFAULT_CHUNK_ROWS, RejectedRow, check_structure, read_chunks
from include.crm_sync.feedback.sql_files import feedback_sql
from include.crm_sync.platforms.base import FeedbackKind
from include.crm_sync.staging.tables import rejected_row
from include.crm_sync.staging.types import UTCDateTime

log = logging.getLogger(__name__)

_SOURCE_MAX = 200


@dataclass(frozen=True, slots=True)
class ApplyResult:
    counts: FeedbackCounts
    #: entities newly marked as bounced by this file
    entities_bounced: int
    #: consents newly revoked by this file
    consents_revoked: int
    #: rejected rows by reason
    rejected_by_reason: dict[str, int]


def apply_file(
    conn: sa.Connection,
    path: Path,
    kind: FeedbackKind,
    *,
    file_id: int,
    list_consents: Mapping[str, str],
    now: datetime,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ApplyResult:
    """Apply ``path`` (ledger entry ``file_id``) within ``conn``'s open transaction."""
    name = path.name
    dialect = conn.dialect.name
    structure = check_structure(path)  # refuses a broken file before anything is written
    stage.create(conn)
    if dialect == "sqlite":
        register_sqlite_functions(conn.connection.dbapi_connection)

    reasons: Counter[str] = Counter()
    staged = 0
    for chunk in read_chunks(path, kind, structure, chunk_rows=chunk_rows):
        rows = chunk.rows
        if kind is FeedbackKind.UNSUBSCRIBES:
            rows["consent_id"] = [list_consents.get(li) if li else None for li in rows["list_id"]]
        else:
            rows["consent_id"] = [None] * len(chunk)
        stage.insert_rows(conn, rows)
        _insert_rejected(conn, file_id, chunk.rejected)
        reasons.update(r.reason for r in chunk.rejected)
        staged += len(chunk)
        log.info("%s: %d of %d rows loaded", name, staged + sum(reasons.values()), structure.records)
    invalid = sum(reasons.values())

    def run(sql_name: str, **params: object) -> sa.CursorResult:
        types = {k: UTCDateTime() for k in params if k in ("now", "received_at")}
        return conn.execute(feedback_sql(sql_name, **types), params)

    if dialect == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {stage.stage.name}")
    run("match")
    run(f"insert_{kind.value}", file_id=file_id, received_at=now)
    unknown = run("reject_unknown", file_id=file_id).rowcount
    if unknown:
        reasons["unknown recipient"] += unknown
    if kind is FeedbackKind.BOUNCES:
        bounced, revoked = run("mark_bounced", now=now).rowcount, 0
    else:
        source = f"feedback:{name}"[:_SOURCE_MAX]
        bounced, revoked = 0, run("revoke_consents", source=source, now=now).rowcount

    line = run(f"line_counts_{kind.value}", file_id=file_id).one()
    unknown_duplicates = unknown - line.unknown_firsts
    counts = FeedbackCounts(
        read=structure.records,
        applied=line.applied,
        known=(line.matched_firsts - line.applied) + (staged - line.firsts - unknown_duplicates),
        rejected=invalid + unknown,
    )
    if line.firsts != line.matched_firsts + line.unknown_firsts:
        raise CountMismatchError(
            f"{name}: {line.firsts} distinct events but {line.matched_firsts} matched + {line.unknown_firsts} unknown"
        )
    counts.check(name)
    stage.drop(conn)
    log.info(
        "%s: %d read = %d applied + %d known + %d rejected; %d entities newly bounced, %d consents revoked%s",
        name, counts.read, counts.applied, counts.known, counts.rejected, bounced, revoked,
        "; rejected: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()) if reasons else "",
    )
    return ApplyResult(counts, bounced, revoked, dict(reasons))


def _insert_rejected(conn: sa.Connection, file_id: int, rows: list[RejectedRow]) -> None:
    if rows:
        conn.execute(
            rejected_row.insert(),
            [{"file_id": file_id, "line_no": r.line_no, "field": r.field, "reason": r.reason, "raw": r.raw}
             for r in rows],
        )
