"""Import the platform's response files from its SFTP area into the CRM (step 4, own schedule).

For one run:

1. gap check: refuse if the last successful import is older than the files' lifetime (the
   platform may have deleted files nobody fetched), unless ``allow_gap``;
2. the configured mailing → CRM campaign map is synchronised (``mapping.py``);
3. list the remote folder; each file is looked up in the ledger by name and size: a file already
   applied (or whose content was, under another name) is not even downloaded again, unless it is
   in the re-import date range; a known name with another size or content is never applied;
4. for each file to import, oldest first: land it atomically (``download.py``; a landed copy of an
   earlier attempt with the same content is reused), check its structure (a truncated file, a
   wrong header or bytes that are not UTF-8 refuse it as a whole: it stays out of the ledger and is
   tried again next run), register it in the ledger (the same content under a new name becomes a
   ``duplicate`` and applies nothing), then parse, load and apply it in ONE transaction that also
   marks it applied (``apply.py``): a crash leaves everything or nothing;
5. success is recorded only when every file was dealt with; otherwise the run fails loudly, after
   importing every file it could. A dropped connection stops the run at once (nothing partial is
   landed or registered) so that the task's retry completes it.

``dry_run`` does all of it inside transactions that are rolled back: the report shows exactly what
would be applied; nothing is registered, applied or recorded (files are still landed).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from include.crm_sync.feedback import ledger
from include.crm_sync.feedback.landing import LandedFile
from include.crm_sync.feedback.window import read_watermark
from include.crm_sync.imports import ledger_end
from include.crm_sync.imports.consent_map import check_list_consents
from include.crm_sync.masking import mask_text
from include.crm_sync.responses import report as outcome
from include.crm_sync.responses.apply import ApplyResult, ResponseFileKind, apply_response_file
from include.crm_sync.responses.counts import ResponseCounts
from include.crm_sync.responses.download import FileFacts, download, scan_file
from include.crm_sync.responses.errors import (
    DownloadError,
    ResponseConfigError,
    ResponseFileError,
    ResponseFilesFailedError,
)
from include.crm_sync.responses.gap import check_gap, record_success
from include.crm_sync.responses.mapping import sync_config_mapping
from include.crm_sync.responses.parse import FileStructure, check_structure
from include.crm_sync.responses.remote import RemoteFile, SftpClient, list_remote_files
from include.crm_sync.responses.report import ResponseFileReport, ResponseImportReport
from include.crm_sync.responses.settings import ResponseImportSettings, event_date_rules
from include.crm_sync.staging.tables import file_ledger

log = logging.getLogger(__name__)

KIND = ResponseFileKind.RESPONSES
DERIVED_DIR = "derived"
REFUSED_DIR = "refused"


@dataclass(frozen=True, slots=True)
class ReimportRange:
    """Files whose modification day on the server (UTC) is in ``[first_day, last_day]`` are imported
    again although the ledger has them as applied (idempotent: only what is missing is applied)."""

    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.first_day > self.last_day:
            raise ValueError(f"re-import range: {self.first_day} is after {self.last_day}")

    def covers(self, remote: RemoteFile) -> bool:
        return self.first_day <= remote.modified_on <= self.last_day

    def __str__(self) -> str:
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"


@dataclass(frozen=True, slots=True)
class _LedgerRow:
    file_id: int
    kind: str
    size_bytes: int
    sha256: str
    status: str


def import_response_files(
    engine: sa.Engine,
    client: SftpClient,
    *,
    settings: ResponseImportSettings,
    landing_dir: Path | str,
    run_id: str,
    list_consents: Mapping[str, str],
    now: datetime | None = None,
    dry_run: bool = False,
    reimport: ReimportRange | None = None,
    allow_gap: bool = False,
) -> ResponseImportReport:
    """Import the new response files on ``client``; raises unless every file was dealt with.

    ``list_consents`` maps platform list ids to CRM consent ids (config/lists.yaml): an unsubscribe
    from a mailing to a mapped list revokes that consent, any other every marketing consent.
    Errors carry the run's report as ``exc.report``.
    """
    now = now or datetime.now(UTC)
    landing_dir = Path(landing_dir)
    _check_list_consents(engine, list_consents)
    with engine.connect() as conn:
        gap = check_gap(conn, settings.export_name, now=now,
                        lifetime=timedelta(days=settings.file_lifetime_days), allow_gap=allow_gap)
    report = ResponseImportReport(run_id, dry_run, settings.remote_dir, gap)
    if not dry_run:
        with engine.begin() as conn:
            sync_config_mapping(conn, settings.mailing_campaigns, now)

    remotes = list_remote_files(client, settings.remote_dir, settings.file_pattern)
    with engine.connect() as conn:
        known = _ledger_rows(conn, [r.name for r in remotes])
    log.info("%s: %d response file(s) on the server, %d of them in the ledger%s%s", settings.remote_dir,
             len(remotes), len(known), f"; re-importing files of {reimport}" if reimport else "",
             " (dry run: nothing is applied)" if dry_run else "")
    context = _Context(engine, client, settings, landing_dir, run_id, list_consents, now, dry_run)
    for remote in remotes:
        try:
            file_report = _import_one(context, remote, known.get(remote.name),
                                      reimport is not None and reimport.covers(remote))
        except DownloadError as exc:
            report.files.append(ResponseFileReport(remote.name, outcome.FAILED, remote.size, error=str(exc)))
            log.error("%s; stopping this attempt (files before it are imported), a retry resumes", exc)
            exc.report = report  # type: ignore[attr-defined]
            raise
        report.files.append(file_report)

    totals = report.totals
    log.info("response import %s: %d file(s); %d read = %d applied + %d known + %d ignored %s + %d rejected %s",
             run_id, len(report.files), totals.read, totals.applied, totals.known, totals.ignored,
             totals.ignored_by_reason or "", totals.rejected, totals.rejected_by_reason or "")
    problems = report.problems
    if problems:
        error = ResponseFilesFailedError(
            f"{len(problems)} response file(s) not imported (the others were): "
            + "; ".join(f"{p.file_name} [{p.status}]: {p.error}" for p in problems)
        )
        error.report = report  # type: ignore[attr-defined]
        raise error
    if not dry_run:
        applied_ids = [f.file_id for f in report.files if f.status == outcome.APPLIED and f.file_id is not None]
        with engine.begin() as conn:
            previous = read_watermark(conn, settings.export_name)
            last_file_id = max(applied_ids) if applied_ids else (previous.last_file_id if previous else None)
            record_success(conn, settings.export_name, now=now, last_file_id=last_file_id)
        report.recorded_success = True
    return report


@dataclass(frozen=True, slots=True)
class _Context:
    engine: sa.Engine
    client: SftpClient
    settings: ResponseImportSettings
    landing_dir: Path
    run_id: str
    list_consents: Mapping[str, str]
    now: datetime
    dry_run: bool


def _import_one(ctx: _Context, remote: RemoteFile, entry: _LedgerRow | None, reimport: bool) -> ResponseFileReport:
    def result(status: str, **fields: object) -> ResponseFileReport:
        return ResponseFileReport(remote.name, status, remote.size, reimport=reimport, **fields)  # type: ignore[arg-type]

    if entry is not None:
        if entry.kind != KIND.value or entry.size_bytes != remote.size:
            return result(outcome.CHANGED, file_id=entry.file_id, error=_changed(remote, entry, f"{remote.size} bytes"))
        if entry.status == ledger.DUPLICATE:
            return result(outcome.DUPLICATE, file_id=entry.file_id, sha256=entry.sha256)
        if entry.status == ledger.APPLIED and not reimport:
            return result(outcome.ALREADY_IMPORTED, file_id=entry.file_id, sha256=entry.sha256)

    path = ctx.landing_dir / remote.name
    facts = _landed_copy(path, remote, entry)
    if facts is None:
        facts = download(ctx.client, remote, ctx.landing_dir)
    if entry is not None and facts.sha256 != entry.sha256:
        return result(outcome.CHANGED, file_id=entry.file_id, sha256=facts.sha256,
                      error=_changed(remote, entry, f"sha256 {facts.sha256[:12]}"))
    try:
        structure = check_structure(path, facts)
    except ResponseFileError as exc:
        refused = ctx.landing_dir / REFUSED_DIR
        refused.mkdir(parents=True, exist_ok=True)
        os.replace(path, refused / remote.name)
        log.error("%s (kept as %s)", exc, refused / remote.name)
        return result(outcome.REFUSED, sha256=facts.sha256, error=str(exc))
    landed = LandedFile(path, KIND, facts.size, facts.sha256, -1)  # type: ignore[arg-type]
    if ctx.dry_run:
        return _dry_run(ctx, remote, landed, structure, result)

    with ctx.engine.begin() as conn:
        entry_now = ledger.register(conn, landed, source=remote.source, window=None, run_id=ctx.run_id, now=ctx.now)
    if entry_now.status == ledger.DUPLICATE:
        log.info("%s: same content as applied file %s; nothing is applied", remote.name, entry_now.duplicate_of)
        return result(outcome.DUPLICATE, file_id=entry_now.file_id, sha256=facts.sha256)
    if entry_now.status == ledger.APPLIED and not reimport:
        return result(outcome.ALREADY_IMPORTED, file_id=entry_now.file_id, sha256=facts.sha256)
    try:
        with ctx.engine.begin() as conn:
            if reimport:
                _reopen(conn, entry_now.file_id)
            if not ledger.claim(conn, entry_now.file_id):  # a concurrent attempt applied it meanwhile
                return result(outcome.ALREADY_IMPORTED, file_id=entry_now.file_id, sha256=facts.sha256)
            applied = _apply(ctx, conn, path, structure, entry_now.file_id,
                             reapplying=entry_now.status == ledger.APPLIED)
            _mark_applied(conn, entry_now.file_id, applied.counts, ctx.now)
    except Exception as exc:  # noqa: BLE001 - any failure: rolled back, recorded, the other files go on
        ledger.mark_failed(ctx.engine, entry_now.file_id, exc)
        message = mask_text(f"{type(exc).__name__}: {exc}")
        log.error("%s: not applied, rolled back: %s", remote.name, message)
        return result(outcome.FAILED, file_id=entry_now.file_id, sha256=facts.sha256, error=message)
    return _applied_report(result, outcome.APPLIED, entry_now.file_id, facts.sha256, applied)


def _dry_run(ctx: _Context, remote: RemoteFile, landed: LandedFile, structure: FileStructure, result) -> ResponseFileReport:
    with ctx.engine.connect() as conn:
        transaction = conn.begin()
        try:
            sync_config_mapping(conn, ctx.settings.mailing_campaigns, ctx.now)
            entry = ledger.register(conn, landed, source=remote.source, window=None, run_id=ctx.run_id, now=ctx.now)
            if entry.status == ledger.DUPLICATE:
                return result(outcome.DUPLICATE, sha256=landed.sha256)
            applied = _apply(ctx, conn, landed.path, structure, entry.file_id,
                             reapplying=entry.status == ledger.APPLIED)
        except Exception as exc:  # noqa: BLE001 - reported as this file's outcome of the dry run
            message = mask_text(f"{type(exc).__name__}: {exc}")
            return result(outcome.FAILED, sha256=landed.sha256, error=message)
        finally:
            transaction.rollback()
    return _applied_report(result, outcome.DRY_RUN, None, landed.sha256, applied)


def _apply(ctx: _Context, conn: sa.Connection, path: Path, structure: FileStructure, file_id: int, *,
           reapplying: bool = False) -> ApplyResult:
    return apply_response_file(
        conn, path, structure, file_id=file_id, list_consents=ctx.list_consents,
        derived_dir=ctx.landing_dir / DERIVED_DIR, now=ctx.now, chunk_rows=ctx.settings.chunk_rows,
        reapplying=reapplying, dates=event_date_rules(ctx.settings),
    )


def _applied_report(result, status: str, file_id: int | None, sha256: str, applied: ApplyResult) -> ResponseFileReport:
    return result(
        status, file_id=file_id, sha256=sha256, counts=applied.counts, campaign_responses=applied.campaign_responses,
        entities_bounced=applied.entities_bounced, consents_revoked=applied.consents_revoked,
        closed_loop_mappings=applied.closed_loop_mappings, held_entities=applied.held_entities,
        untrusted_dates=applied.untrusted_dates,
    )


def _landed_copy(path: Path, remote: RemoteFile, entry: _LedgerRow | None) -> FileFacts | None:
    """Facts of a landed copy from an earlier attempt, if it can stand in for a download."""
    if not path.exists() or path.stat().st_size != remote.size:
        return None
    facts = scan_file(path)
    if entry is not None and facts.sha256 != entry.sha256:
        return None
    log.info("%s: using the copy landed by an earlier attempt (sha256 %s)", remote.name, facts.sha256[:12])
    return facts


def _changed(remote: RemoteFile, entry: _LedgerRow, now_is: str) -> str:
    return (
        f"the ledger has {remote.name} as file {entry.file_id} ({entry.kind}, {entry.size_bytes} bytes, sha256 "
        f"{entry.sha256[:12]}, {entry.status}) but the server now has {now_is}: a response file must never "
        "change. It is not imported; move it aside on the server and investigate"
    )


def _ledger_rows(conn: sa.Connection, names: list[str]) -> dict[str, _LedgerRow]:
    found: dict[str, _LedgerRow] = {}
    for start in range(0, len(names), 500):
        rows = conn.execute(
            sa.select(file_ledger.c.file_name, file_ledger.c.file_id, file_ledger.c.kind, file_ledger.c.size_bytes,
                      file_ledger.c.sha256, file_ledger.c.status)
            .where(file_ledger.c.file_name.in_(names[start:start + 500]))
        )
        for row in rows:
            found[row.file_name] = _LedgerRow(row.file_id, row.kind, row.size_bytes, row.sha256, row.status)
    return found


def _reopen(conn: sa.Connection, file_id: int) -> None:
    """Re-import: an applied file is applied again (idempotent) in this transaction."""
    conn.execute(
        file_ledger.update()
        .where(file_ledger.c.file_id == file_id, file_ledger.c.status == ledger.APPLIED)
        .values(status=ledger.RECEIVED)
    )


def _mark_applied(conn: sa.Connection, file_id: int, counts: ResponseCounts, now: datetime) -> None:
    """The response file's counts (with ``rows_ignored``) and status commit with its effect."""
    ledger_end.mark_applied(conn, file_id, counts, now)


def _check_list_consents(engine: sa.Engine, list_consents: Mapping[str, str]) -> None:
    """Every consent the mapping names must exist, else an unsubscribe would silently revoke nothing."""
    check_list_consents(engine, list_consents, ResponseConfigError)


def applied_file_names(engine: sa.Engine, names: Iterable[str]) -> dict[str, int]:
    """name -> size of the given files that the ledger has as applied or duplicate (for tidying up)."""
    names = list(names)
    with engine.connect() as conn:
        rows = _ledger_rows(conn, names)
    return {name: row.size_bytes for name, row in rows.items()
            if row.kind == KIND.value and row.status in (ledger.APPLIED, ledger.DUPLICATE)}
