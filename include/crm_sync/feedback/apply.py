"""Apply one landing file to the CRM staging tables: set-based, inside the caller's transaction.

Steps (SQL in ``sql/feedback/``): the structure check refuses a broken file before anything is
written; valid rows are bulk-loaded into ``tmp_feedback_stage`` and rejected rows into
``rejected_row``; then

1. ``match``: each distinct event of the file (its first line; repeated lines are duplicates) is
   matched to CRM entities by recipient id = entity id, else by normalised e-mail (every entity
   with that address); an event matching nobody gets one row with ``entity_id`` NULL;
2. ``insert_<kind>``: events are stored once per (event, entity) (``row_key``), skipping those an
   overlapping window stored before; a line whose stored events re-deliver what another file (a
   response file, say) stored for the same entity, time and mailing is *known*, not applied
   (``redelivered_<kind>``); ``reject_unknown``: every line of an unmatched event
   becomes a rejected row "unknown recipient" (its event is still stored, entity NULL);
3. effects: hard bounce / overflow → ``crm_entity.is_bounced`` (``mark_bounced``: first bounce
   wins; soft bounces are only stored); unsubscribe → the consent of the list it came from
   (``list_consents``), or every marketing consent when the list is not mapped
   (``revoke_consents``). Entities and consents already in the target state are left untouched,
   so applying again changes nothing;
4. ``line_counts``: the counts are taken and must add up.

The caller owns the transaction (one per file), the ledger row and the watermark.
"""

from __future__ import annotations

import dataclasses
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
from include.crm_sync.feedback.load import DEFAULT_CHUNK_ROWS, check_structure, read_chunks
from include.crm_sync.imports import apply_session
from include.crm_sync.imports.event_dates import EventDateRules
from include.crm_sync.imports.rejections import Rejections
from include.crm_sync.platforms.base import FeedbackKind
from include.crm_sync.staging.tables import feedback_bounce, feedback_unsubscribe

log = logging.getLogger(__name__)

_SOURCE_MAX = 200
#: the table events of a kind are stored in, and its ascending id
_EVENT_TABLES = {
    FeedbackKind.BOUNCES: (feedback_bounce, feedback_bounce.c.bounce_id),
    FeedbackKind.UNSUBSCRIBES: (feedback_unsubscribe, feedback_unsubscribe.c.unsubscribe_id),
}
#: the CRM tables the apply joins (their statistics decide the plans)
_CRM_TABLES = ("crm_entity", "crm_consent", "feedback_bounce", "feedback_unsubscribe")


@dataclass(frozen=True, slots=True)
class ApplyResult:
    counts: FeedbackCounts
    #: entities newly marked as bounced by this file
    entities_bounced: int
    #: consents newly revoked by this file
    consents_revoked: int
    #: rejected rows by reason
    rejected_by_reason: dict[str, int]
    #: CRM entities held because a rejected row of this file names them (fail-safe)
    held_entities: int = 0
    #: applied rows whose event time was not trusted (recorded with the time of receipt), by reason
    untrusted_dates: dict[str, int] = dataclasses.field(default_factory=dict)
    #: values not used to identify the person or stored as NULL, by column and reason
    neutralised: dict[str, int] = dataclasses.field(default_factory=dict)


def apply_file(
    conn: sa.Connection,
    path: Path,
    kind: FeedbackKind,
    *,
    file_id: int,
    list_consents: Mapping[str, str],
    now: datetime,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    dates: EventDateRules | None = None,
) -> ApplyResult:
    """Apply ``path`` (ledger entry ``file_id``) within ``conn``'s open transaction; ``now`` is the
    time of receipt (events whose date cannot be true are recorded with it)."""
    name = path.name
    dialect = conn.dialect.name
    structure = check_structure(path)  # refuses a broken file before anything is written
    apply_session.prepare(conn)
    apply_session.create_temp_tables(conn, stage.TABLES)
    if dialect == "sqlite":
        register_sqlite_functions(conn.connection.dbapi_connection)

    rejections = Rejections(file_id, now)
    reasons = rejections.reasons
    unmapped: Counter[str] = Counter()
    staged = 0
    for chunk in read_chunks(path, kind, structure, chunk_rows=chunk_rows, now=now, dates=dates):
        rows = chunk.rows
        if kind is FeedbackKind.UNSUBSCRIBES:
            rows["consent_id"] = [list_consents.get(li) if li else None for li in rows["list_id"]]
            unmapped.update(
                li for li, c in zip(rows["list_id"], rows["consent_id"], strict=True) if li and not c
            )
        else:
            rows["consent_id"] = [None] * len(chunk)
        stage.insert_rows(conn, rows)
        rejections.add(conn, chunk)
        staged += len(chunk)
        log.info("%s: %d of %d rows loaded", name, staged + sum(reasons.values()), structure.records)
    invalid = sum(reasons.values())
    if unmapped:
        log.warning(
            "%s: %d unsubscribes come from platform lists without a consent mapping (%s): every "
            "marketing consent of their entities is revoked",
            name,
            sum(unmapped.values()),
            ", ".join(f"list {li}: {n}" for li, n in unmapped.most_common(10)),
        )

    sql = apply_session.TimedSql(conn, "feedback")
    run = sql.run
    apply_session.tune_for_whole_file(conn, name, stage.stage.name, _CRM_TABLES)
    run("match")
    if dialect == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {stage.match.name}")
    events, event_id = _EVENT_TABLES[kind]
    id_before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(event_id), 0))).scalar_one()
    run(f"insert_{kind.value}", file_id=file_id, received_at=now)
    # lines that stored a new row for a CRM entity: the rows just added have ids above id_before
    # (the file_id excludes rows other sessions may add meanwhile)
    applied = conn.execute(
        sa.select(sa.func.count(sa.distinct(events.c.line_no))).where(
            event_id > id_before, events.c.file_id == file_id, events.c.entity_id.is_not(None)
        )
    ).scalar_one()
    # Of those, lines re-delivering events another file already stored (same entity, time, mailing):
    # their effect is already in the CRM, so they are known, not applied (else the response import and
    # the next night's export would both report the same bounces as applied).
    applied -= run(f"redelivered_{kind.value}", file_id=file_id, id_before=id_before).scalar_one()
    unknown = run("reject_unknown", file_id=file_id).rowcount
    rejections.hold_unknown(conn, unknown, lambda: run("unknown_lines"))
    if unknown:
        reasons["unknown recipient"] += unknown
    if kind is FeedbackKind.BOUNCES:
        bounced, revoked = run("mark_bounced", now=now).rowcount, 0
    else:
        source = f"feedback:{name}"[:_SOURCE_MAX]
        bounced, revoked = 0, run("revoke_consents", source=source, now=now).rowcount

    line = run("line_counts").one()
    unknown_duplicates = unknown - line.unknown_firsts
    counts = FeedbackCounts(
        read=structure.records,
        applied=applied,
        known=(line.matched_firsts - applied) + (staged - line.firsts - unknown_duplicates),
        rejected=invalid + unknown,
    )
    if line.firsts != line.matched_firsts + line.unknown_firsts:
        raise CountMismatchError(
            f"{name}: {line.firsts} distinct events but "
            f"{line.matched_firsts} matched + {line.unknown_firsts} unknown"
        )
    counts.check(name)
    apply_session.drop_temp_tables(conn, stage.TABLES)
    sql.log(name)
    log.info(
        "%s: %d read = %d applied + %d known + %d rejected; %d entities newly bounced, %d consents revoked%s",
        name,
        counts.read,
        counts.applied,
        counts.known,
        counts.rejected,
        bounced,
        revoked,
        "; rejected: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()) if reasons else "",
    )
    rejections.warn(name, "row")
    if rejections.neutralised:
        log.info("%s: values not used or stored as NULL: %s", name, dict(rejections.neutralised))
    return ApplyResult(
        counts,
        bounced,
        revoked,
        dict(reasons),
        len(rejections.held),
        dict(rejections.untrusted),
        dict(rejections.neutralised),
    )
