"""Import the platform's bounces and unsubscribes into the CRM: step 1 of every sync run.

For each export (``<platform>:bounces``, ``<platform>:unsubscribes``):

1. read the watermark and plan ``[watermark - overlap, platform now)``; refuse if the last
   successful import is older than the platform's retention (``allow_gap`` overrides);
2. page through the export (the platform implementation pages) into a landing CSV file (the next
   export's while this one is applied);
3. register the file in the ledger (a content already applied is a ``duplicate``);
4. load + apply it in ONE transaction that also marks the ledger row applied and moves the
   watermark, so a crash anywhere leaves either everything or nothing.

Every step can be re-run and ends in the same state: a retry re-requests the window from the
unchanged watermark, and events already stored are recognised by their key. The refill (step 2)
must only start when this returns without raising.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from include.crm_sync.feedback import ledger
from include.crm_sync.feedback.apply import apply_file
from include.crm_sync.feedback.counts import FeedbackCounts
from include.crm_sync.feedback.errors import FeedbackConfigError, FeedbackGapError, FeedbackImportError
from include.crm_sync.feedback.landing import (
    LandedFile,
    describe_file,
    landing_file_name,
    verify_unchanged,
    write_landing_file,
)
from include.crm_sync.feedback.load import DEFAULT_CHUNK_ROWS
from include.crm_sync.feedback.report import (
    ALREADY_APPLIED,
    APPLIED,
    DUPLICATE,
    FeedbackFileReport,
    FeedbackImportReport,
)
from include.crm_sync.feedback.window import (
    ExportWindow,
    export_name,
    plan_window,
    read_watermark,
    write_watermark,
)
from include.crm_sync.imports.consent_map import check_list_consents
from include.crm_sync.imports.event_dates import EventDateRules
from include.crm_sync.masking import mask_text
from include.crm_sync.platforms.base import FeedbackKind, RecipientListPlatform

log = logging.getLogger(__name__)


def import_feedback(
    engine: sa.Engine,
    platform: RecipientListPlatform,
    *,
    landing_dir: Path | str,
    run_id: str,
    list_consents: Mapping[str, str],
    overlap: timedelta = timedelta(hours=1),
    retention: timedelta = timedelta(days=30),
    allow_gap: bool = False,
    now: datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    dates: EventDateRules | None = None,
) -> FeedbackImportReport:
    """Import both feedback exports of ``platform``; raises unless every export was applied.

    ``list_consents`` maps platform list ids to CRM consent ids (from ``config/lists.yaml``): an
    unsubscribe from a mapped list revokes that consent, any other every marketing consent.
    ``dates`` says which event times can be true (clock skew, earliest date; ``EventDateRules``).
    """
    now = now or datetime.now(UTC)
    landing_dir = Path(landing_dir)
    check_list_consents(engine, list_consents, FeedbackConfigError)
    platform_now = platform.current_time()
    with engine.connect() as conn:
        windows = {}
        gaps = []
        for kind in FeedbackKind:
            name = export_name(platform.name, kind)
            previous = read_watermark(conn, name)
            try:
                windows[kind] = plan_window(
                    name,
                    previous.watermark if previous else None,
                    platform_now,
                    overlap=overlap,
                    retention=retention,
                    allow_gap=allow_gap,
                )
            except FeedbackGapError as exc:
                gaps.append(str(exc))
    if gaps:  # before anything is fetched: the operator decides
        raise FeedbackGapError("\n".join(gaps))

    report = FeedbackImportReport(run_id, platform.name)
    failures: list[tuple[str, Exception]] = []
    # The next export is fetched and landed (the platform's time and ours in Python) while this one
    # is applied (the database's time): one landing at a time, the applies in order as before.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedback-landing") as landing:
        landed = [
            landing.submit(_land_export, platform, kind, window, landing_dir=landing_dir, run_id=run_id)
            for kind, window in windows.items()
        ]
        for (kind, window), pending in zip(windows.items(), landed, strict=True):
            try:
                report.files.append(
                    _apply_landed(
                        engine,
                        pending.result(),
                        list_consents=list_consents,
                        run_id=run_id,
                        source=f"{platform.name}:{kind.value}",
                        window=window,
                        now=now,
                        chunk_rows=chunk_rows,
                        dates=dates,
                    )
                )
            except Exception as exc:  # the other export is still imported; the step fails below
                message = mask_text(f"{window.export_name}: {type(exc).__name__}: {exc}")
                log.error("feedback import failed: %s", message)
                failures.append((message, exc))
    if failures:
        raise FeedbackImportError(
            "feedback import incomplete, the refill must not run: " + "; ".join(m for m, _ in failures)
        ) from failures[0][1]
    totals = report.totals
    log.info(
        "feedback import %s from %s: %d read = %d applied + %d known + %d rejected",
        run_id,
        platform.name,
        totals.read,
        totals.applied,
        totals.known,
        totals.rejected,
    )
    return report


def _land_export(
    platform: RecipientListPlatform,
    kind: FeedbackKind,
    window: ExportWindow,
    *,
    landing_dir: Path,
    run_id: str,
) -> LandedFile:
    log.info(
        "%s: requesting [%s, %s)", window.export_name, window.since.isoformat(), window.until.isoformat()
    )
    name = landing_file_name(platform.name, kind, window.since, window.until, run_id)
    return write_landing_file(
        landing_dir, name, kind, platform.fetch_feedback(kind, window.since, window.until)
    )


def apply_feedback_file(
    engine: sa.Engine,
    path: Path | str,
    kind: FeedbackKind | str,
    *,
    list_consents: Mapping[str, str],
    run_id: str | None = None,
    source: str | None = None,
    now: datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> FeedbackFileReport:
    """(Re)apply a landed file directly; idempotent: a file already applied (by name or content) is not
    applied again. Watermarks are not touched (only ``import_feedback`` knows the window)."""
    check_list_consents(engine, list_consents, FeedbackConfigError)
    landed = describe_file(Path(path), FeedbackKind(kind))
    return _apply_landed(
        engine,
        landed,
        list_consents=list_consents,
        run_id=run_id,
        source=source or "file",
        window=None,
        now=now or datetime.now(UTC),
        chunk_rows=chunk_rows,
    )


def _apply_landed(
    engine: sa.Engine,
    landed: LandedFile,
    *,
    list_consents: Mapping[str, str],
    run_id: str | None,
    source: str | None,
    window: ExportWindow | None,
    now: datetime,
    chunk_rows: int,
    dates: EventDateRules | None = None,
) -> FeedbackFileReport:
    with engine.begin() as conn:
        entry = ledger.register(
            conn,
            landed,
            source=source,
            window=(window.since, window.until) if window else None,
            run_id=run_id,
            now=now,
        )

    def report(status: str, counts: FeedbackCounts, **effects) -> FeedbackFileReport:
        return FeedbackFileReport(
            landed.kind,
            landed.name,
            landed.path,
            entry.file_id,
            status,
            counts,
            window_since=window.since if window else None,
            window_until=window.until if window else None,
            gap=window.gap if window else None,
            **effects,
        )

    def advance_watermark(conn: sa.Connection) -> None:
        if window is not None:
            write_watermark(conn, window.export_name, window.until, success_at=now, file_id=entry.file_id)

    if entry.status in (ledger.APPLIED, ledger.DUPLICATE):
        log.info(
            "%s: %s; not applied again",
            landed.name,
            "already applied"
            if entry.status == ledger.APPLIED
            else f"duplicate of file {entry.duplicate_of}",
        )
        with engine.begin() as conn:
            advance_watermark(conn)
        status = ALREADY_APPLIED if entry.status == ledger.APPLIED else DUPLICATE
        return report(status, entry.counts or FeedbackCounts.zero())

    try:
        with engine.begin() as conn:
            if not ledger.claim(conn, entry.file_id):  # a concurrent attempt applied it meanwhile
                advance_watermark(conn)
                return report(ALREADY_APPLIED, FeedbackCounts.zero())
            result = apply_file(
                conn,
                landed.path,
                landed.kind,
                file_id=entry.file_id,
                list_consents=list_consents,
                now=now,
                chunk_rows=chunk_rows,
                dates=dates,
            )
            verify_unchanged(landed)  # what was applied is what was registered, else rolled back
            ledger.mark_applied(conn, entry.file_id, result.counts, now)
            advance_watermark(conn)
    except Exception as exc:
        ledger.mark_failed(engine, entry.file_id, exc)
        raise
    return report(
        APPLIED,
        result.counts,
        entities_bounced=result.entities_bounced,
        consents_revoked=result.consents_revoked,
        rejected_by_reason=result.rejected_by_reason,
        held_entities=result.held_entities,
        untrusted_dates=result.untrusted_dates,
        neutralised=result.neutralised,
    )
