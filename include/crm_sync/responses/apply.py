"""Apply one landed response file to the CRM: set-based, inside the caller's transaction.

Steps (SQL in ``sql/responses/``), after ``parse.check_structure`` accepted the file:

1. the file is stream-parsed in chunks; valid lines go to ``tmp_response_stage`` (COPY on
   PostgreSQL), malformed ones to ``rejected_row`` with line and reason;
2. closed loop: mailings carrying a wave id get their CRM campaign mapped (``map_waves``);
3. each distinct event (first line per ``event_key``; later lines are duplicates) is matched to its
   CRM entity and its mailing's CRM campaign and classified (``classify``): autoresponders and
   opens/clicks of mailings without a CRM campaign are *ignored* (counted by reason), events of
   recipients the CRM does not know are *rejected*, the rest is *applied*;
4. every distinct event is stored once in ``response_event`` with that outcome; one stored
   earlier as ignored/unknown that applies now is updated (re-import after a mapping was added);
5. opens and clicks that apply become ``crm_campaign_response`` rows (once per event);
6. bounces and unsubscribes that apply are written as feedback landing files in the step-2 format
   (``landing.write_landing_file``, under ``derived/``) and applied by the very same feedback
   apply as the nightly sync (``feedback.apply.apply_file``): hard bounce → entity bounced,
   unsubscribe → consent revoked, soft bounce stored; events stored before are recognised there;
7. the counts are taken and must add up: read = applied + known + ignored + rejected.

The caller owns the transaction (one per file) and the ledger row; the derived rows are stored
with the response file's ledger id.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from include.crm_sync.feedback.apply import apply_file as apply_feedback_file
from include.crm_sync.feedback.landing import write_landing_file
from include.crm_sync.imports import apply_session
from include.crm_sync.imports.event_dates import EventDateRules
from include.crm_sync.imports.rejections import Rejections
from include.crm_sync.platforms.base import FeedbackKind, FeedbackRow
from include.crm_sync.responses import stage
from include.crm_sync.responses.counts import ResponseCounts
from include.crm_sync.responses.errors import ResponseCountError
from include.crm_sync.responses.file_format import (
    APPLIED,
    BOUNCE_EVENT_TYPES,
    CAMPAIGN_EVENT_TYPES,
    IGNORED_REASONS,
    UNKNOWN_RECIPIENT,
    UNSUBSCRIBE,
)
from include.crm_sync.responses.parse import (
    DEFAULT_CHUNK_ROWS,
    FileStructure,
    judge_dates,
    read_chunks,
)
from include.crm_sync.responses.sql_files import response_sql
from include.crm_sync.staging.tables import feedback_bounce, feedback_unsubscribe, rejected_row
from include.crm_sync.staging.types import UTCDateTime

log = logging.getLogger(__name__)

UNKNOWN_RECIPIENT_REASON = "unknown recipient"
PROGRESS_EVERY_LINES = 200_000
#: the CRM tables the apply joins (their statistics decide the plans)
_CRM_TABLES = ("crm_entity", "mailing_campaign", "response_event", "crm_campaign_response")


class ResponseFileKind(enum.StrEnum):
    """The ledger kind of response files (next to the feedback kinds ``bounces``/``unsubscribes``)."""

    RESPONSES = "responses"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    counts: ResponseCounts
    #: new CRM campaign responses (opens and clicks)
    campaign_responses: int
    #: entities newly marked bounced / consents newly revoked by the feedback apply
    entities_bounced: int
    consents_revoked: int
    #: distinct events stored for the first time / stored before and applied only now
    new_events: int
    reapplied_events: int
    #: mailings newly mapped to a CRM campaign by a wave id in this file
    closed_loop_mappings: int
    #: mailings whose wave id in the file disagrees with their mapping (kept as mapped)
    wave_conflicts: list[dict[str, object]] = field(default_factory=list)
    #: the feedback landing files handed to the step-2 apply
    derived_files: list[str] = field(default_factory=list)
    #: CRM entities held out of every list because a rejected line of this file names them
    held_entities: int = 0
    #: bounces/unsubscribes applied with the time of receipt, their date cannot be true, by reason
    untrusted_dates: dict[str, int] = field(default_factory=dict)
    #: values of bounces/unsubscribes not used or stored as NULL, by column and reason
    neutralised: dict[str, int] = field(default_factory=dict)


def apply_response_file(
    conn: sa.Connection,
    path: Path,
    structure: FileStructure,
    *,
    file_id: int,
    list_consents: Mapping[str, str],
    derived_dir: Path,
    now: datetime,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    reapplying: bool = False,
    dates: EventDateRules | None = None,
) -> ApplyResult:
    """Apply ``path`` (ledger entry ``file_id``) within ``conn``'s open transaction; ``reapplying``
    when the file was applied before (a re-import). ``now`` is the time of receipt: events whose
    date cannot be true (``dates``) are rejected (opens, clicks) or recorded with it (a "no")."""
    name = path.name
    dialect = conn.dialect.name

    sql = apply_session.TimedSql(conn, "responses")
    run = sql.run

    # A re-import regenerates the file's rejected rows; a first import has none.
    conn.execute(rejected_row.delete().where(rejected_row.c.file_id == file_id))
    apply_session.prepare(conn)
    apply_session.create_temp_tables(conn, stage.TABLES)
    rejections = Rejections(file_id, now)
    invalid = rejections.reasons
    read = staged = 0
    next_progress = PROGRESS_EVERY_LINES
    for parsed in read_chunks(path, structure, chunk_rows=chunk_rows):
        chunk = judge_dates(parsed, now, dates)
        stage.insert_rows(conn, chunk.rows)
        rejections.add(conn, chunk)
        read += chunk.lines
        staged += len(chunk)
        if read >= next_progress:
            log.info("%s: %d lines loaded (%d rejected so far)", name, read, sum(invalid.values()))
            next_progress += PROGRESS_EVERY_LINES
    apply_session.tune_for_whole_file(conn, name, stage.stage.name, _CRM_TABLES)

    closed_loop = run("map_waves", now=now).rowcount
    conflicts = [dict(row._mapping) for row in run("wave_conflicts")]
    if closed_loop:
        log.info(
            "%s: %d mailing(s) mapped to their CRM campaign by the closed-loop wave id", name, closed_loop
        )
    for conflict in conflicts:
        log.warning(
            "%s: mailing %s carries another wave id than its CRM campaign %s (%s); kept as mapped",
            name,
            conflict["mailing_id"],
            conflict["crm_campaign_id"],
            conflict["source"],
        )
    run("classify")
    if dialect == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {stage.first.name}")
    new_events = run("insert_events", file_id=file_id, now=now).rowcount
    reapplied = run("update_events", now=now).rowcount
    campaign_new = run("insert_campaign_responses", file_id=file_id, now=now).rowcount
    unknown = run("reject_unknown", file_id=file_id).rowcount
    rejections.hold_unknown(conn, unknown, lambda: run("unknown_lines"))

    by_status: Counter[str] = Counter()
    by_outcome: Counter[tuple[str, str]] = Counter()
    for row in run("status_counts"):
        by_status[row.status] += row.events
        by_outcome[(row.status, row.event_type)] += row.events

    derived_files = []
    derived_applied = derived_known = bounced = revoked = 0
    for kind in (FeedbackKind.BOUNCES, FeedbackKind.UNSUBSCRIBES):
        expected = sum(
            n
            for (status, event_type), n in by_outcome.items()
            if status == APPLIED and _feedback_kind(event_type) is kind
        )
        if not expected:
            continue
        derived = derived_dir / f"{path.stem}.{kind.value}.csv"
        derived.unlink(missing_ok=True)  # derived from this file and today's CRM: always rewritten
        landed = write_landing_file(derived_dir, derived.name, kind, _feedback_rows(conn, kind))
        stored_before = _feedback_rows_of(conn, kind, file_id) if reapplying else 0
        result = apply_feedback_file(
            conn,
            landed.path,
            kind,
            file_id=file_id,
            list_consents=list_consents,
            now=now,
            chunk_rows=chunk_rows,
        )
        fed = result.counts
        if reapplying:
            # The feedback apply counts a line as applied when its row carries this file's id, which
            # rows stored by this file's earlier application do too: count what this pass added.
            # (Each derived line is matched by entity id: exactly one stored row per line.)
            added = _feedback_rows_of(conn, kind, file_id) - stored_before
            fed = dataclasses.replace(fed, applied=added, known=fed.read - fed.rejected - added)
        if fed.read != expected or fed.rejected:
            raise ResponseCountError(
                f"{name}: the feedback apply read {fed.read} of {expected} {kind.value} "
                f"and rejected {fed.rejected} "
                f"({result.rejected_by_reason}); the response validation is out of step with it. Rolled back"
            )
        derived_files.append(landed.name)
        derived_applied += fed.applied
        derived_known += fed.known
        bounced += result.entities_bounced
        revoked += result.consents_revoked

    firsts = sum(by_status.values())
    campaign_applied = sum(
        n
        for (status, event_type), n in by_outcome.items()
        if status == APPLIED and event_type in CAMPAIGN_EVENT_TYPES
    )
    ignored_by_reason = {
        reason: by_status[status] for status, reason in IGNORED_REASONS.items() if by_status[status]
    }
    rejected_by_reason = dict(invalid)
    if unknown:
        rejected_by_reason[UNKNOWN_RECIPIENT_REASON] = (
            rejected_by_reason.get(UNKNOWN_RECIPIENT_REASON, 0) + unknown
        )
    if unknown != by_status[UNKNOWN_RECIPIENT]:
        raise ResponseCountError(
            f"{name}: {by_status[UNKNOWN_RECIPIENT]} unknown recipients but {unknown} rejected"
        )
    counts = ResponseCounts(
        read=read,
        applied=campaign_new + derived_applied,
        known=(staged - firsts) + (campaign_applied - campaign_new) + derived_known,
        ignored=sum(ignored_by_reason.values()),
        rejected=sum(rejected_by_reason.values()),
        ignored_by_reason=ignored_by_reason,
        rejected_by_reason=rejected_by_reason,
    ).check(name)
    apply_session.drop_temp_tables(conn, stage.TABLES)
    sql.log(name)
    log.info(
        "%s: %d read = %d applied + %d known + %d ignored %s + %d rejected %s; %d campaign responses, "
        "%d entities newly bounced, %d consents revoked",
        name,
        counts.read,
        counts.applied,
        counts.known,
        counts.ignored,
        counts.ignored_by_reason or "",
        counts.rejected,
        counts.rejected_by_reason or "",
        campaign_new,
        bounced,
        revoked,
    )
    rejections.warn(name, "line")
    return ApplyResult(
        counts,
        campaign_new,
        bounced,
        revoked,
        new_events,
        reapplied,
        closed_loop,
        conflicts,
        derived_files,
        len(rejections.held),
        dict(rejections.untrusted),
        dict(rejections.neutralised),
    )


def _feedback_rows_of(conn: sa.Connection, kind: FeedbackKind, file_id: int) -> int:
    table = feedback_bounce if kind is FeedbackKind.BOUNCES else feedback_unsubscribe
    return conn.execute(
        sa.select(sa.func.count()).select_from(table).where(table.c.file_id == file_id)
    ).scalar_one()


def _feedback_kind(event_type: str) -> FeedbackKind | None:
    if event_type in BOUNCE_EVENT_TYPES:
        return FeedbackKind.BOUNCES
    if event_type == UNSUBSCRIBE:
        return FeedbackKind.UNSUBSCRIBES
    return None


def _feedback_rows(conn: sa.Connection, kind: FeedbackKind) -> Iterator[FeedbackRow]:
    """The classified bounces or unsubscribes of known entities, as the feedback format's rows."""
    statement = response_sql("derived_feedback").columns(
        sa.column("line_no", sa.Integer),
        sa.column("crm_entity_id", sa.String),
        sa.column("event_type", sa.String),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("list_id", sa.String),
        sa.column("mailing_id", sa.String),
    )
    result = conn.execute(
        statement, {"kind": kind.value}, execution_options={"stream_results": True, "yield_per": 10_000}
    )
    for row in result:
        yield FeedbackRow(
            kind,
            row.crm_entity_id,
            None,
            row.event_type if kind is FeedbackKind.BOUNCES else "unsubscribe",
            row.occurred_at,
            row.list_id,
            row.mailing_id,
        )
