"""Import the platform's response files from its SFTP area into the CRM (step 4, own schedule).

For one run:

1. gap check: refuse if the last successful import is older than the files' lifetime (the
   platform may have deleted files nobody fetched), unless ``allow_gap``;
2. the configured mailing → CRM campaign map is synchronised (``mapping.py``);
3. list the remote folder; for each file, oldest first, the server's current bytes are downloaded
   and hashed (``download.py``): a file is known by its sha256, never by its name and size, and no
   local copy (of an earlier attempt, of a dry run, of anyone) ever stands in for the server's;
4. the ledger entry of that name AND content decides: applied before (or a duplicate) → nothing
   to do, unless the file is in the re-import date range; otherwise the file is landed under its
   ledger name, its structure checked (a truncated file, a wrong header or bytes that are not
   UTF-8 refuse it as a whole: it stays out of the ledger and is tried again next run), it is
   registered (the same content under another name becomes a ``duplicate`` and applies nothing),
   then parsed, loaded and applied in ONE transaction that also marks it applied (``apply.py``):
   a crash leaves everything or nothing. The parser checks that the bytes it reads are the ones
   downloaded;
5. success is recorded only when every file was dealt with; otherwise the run fails loudly, after
   importing every file it could. A dropped connection stops the run at once (nothing partial is
   landed or registered) so that the task's retry completes it.

New content under a name the ledger knows (the platform rewrote a file) is imported as a new file,
not skipped and not refused: its ledger name is ``<stem>.sha256-<first 16 hex>.<ext>`` (the
``source`` column keeps the server path), it is logged and noted in the report. Why not refuse:
the import only adds (every event is stored once by its ``event_key``; what the old content
applied stays applied), so importing the new content is safe, while refusing would hold back its
unsubscribes and bounces until someone acts, and people would be mailed meanwhile.

``dry_run`` lands everything in a temporary folder that is removed at the end and applies inside
transactions that are rolled back: the report shows exactly what would be applied; nothing is
registered, applied, recorded or left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath

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
from include.crm_sync.responses.download import download
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
        gap = check_gap(
            conn,
            settings.export_name,
            now=now,
            lifetime=timedelta(days=settings.file_lifetime_days),
            allow_gap=allow_gap,
        )
    report = ResponseImportReport(run_id, dry_run, settings.remote_dir, gap)
    if not dry_run:
        with engine.begin() as conn:
            sync_config_mapping(conn, settings.mailing_campaigns, now)

    remotes = list_remote_files(client, settings.remote_dir, settings.file_pattern)
    log.info(
        "%s: %d response file(s) on the server%s%s",
        settings.remote_dir,
        len(remotes),
        f"; re-importing files of {reimport}" if reimport else "",
        " (dry run: nothing is applied, nothing is kept)" if dry_run else "",
    )
    # Downloads land in a folder of this run's own (two runs at once never hand each other a file),
    # removed at the end; a dry run lands everything there, so nothing it saw stays behind.
    scratch = Path(tempfile.mkdtemp(prefix=".dry-run-" if dry_run else ".incoming-", dir=_made(landing_dir)))
    work_dir = scratch if dry_run else landing_dir
    context = _Context(engine, client, settings, work_dir, scratch, run_id, list_consents, now, dry_run)
    try:
        for remote in remotes:
            try:
                file_report = _import_one(context, remote, reimport is not None and reimport.covers(remote))
            except DownloadError as exc:
                failed = ResponseFileReport(remote.name, outcome.FAILED, remote.size, error=str(exc))
                report.files.append(failed)
                log.error("%s; stopping this attempt (files before it are imported), a retry resumes", exc)
                exc.report = report  # type: ignore[attr-defined]
                raise
            report.files.append(file_report)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    totals = report.totals
    log.info(
        "response import %s: %d file(s); %d read = %d applied + %d known + %d ignored %s + %d rejected %s",
        run_id,
        len(report.files),
        totals.read,
        totals.applied,
        totals.known,
        totals.ignored,
        totals.ignored_by_reason or "",
        totals.rejected,
        totals.rejected_by_reason or "",
    )
    problems = report.problems
    if problems:
        error = ResponseFilesFailedError(
            f"{len(problems)} response file(s) not imported (the others were): "
            + "; ".join(f"{p.file_name} [{p.status}]: {p.error}" for p in problems)
        )
        error.report = report  # type: ignore[attr-defined]
        raise error
    if not dry_run:
        applied_ids = [
            f.file_id for f in report.files if f.status == outcome.APPLIED and f.file_id is not None
        ]
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
    #: where this run's downloads land before their content is identified
    incoming_dir: Path
    run_id: str
    list_consents: Mapping[str, str]
    now: datetime
    dry_run: bool


def _import_one(ctx: _Context, remote: RemoteFile, reimport: bool) -> ResponseFileReport:
    def result(status: str, **fields: object) -> ResponseFileReport:
        return ResponseFileReport(remote.name, status, remote.size, reimport=reimport, **fields)  # type: ignore[arg-type]

    # The server's bytes, always: a name and a size say nothing about the content, and a local
    # copy may be older than the server's file (a dry run's, an earlier attempt's).
    facts = download(ctx.client, remote, ctx.incoming_dir)
    incoming = ctx.incoming_dir / remote.name
    with ctx.engine.connect() as conn:
        ledger_name, entry, earlier = _identify(conn, remote.name, facts.sha256)
    if entry is not None:
        if entry.kind != KIND.value:
            incoming.unlink(missing_ok=True)
            return result(
                outcome.CHANGED,
                file_id=entry.file_id,
                sha256=facts.sha256,
                error=(
                    f"the ledger has {ledger_name} as a {entry.kind} file (file {entry.file_id}); a response "
                    "file of that name is not imported: move it aside on the server and investigate"
                ),
            )
        if entry.status == ledger.DUPLICATE:
            incoming.unlink(missing_ok=True)
            return result(outcome.DUPLICATE, file_id=entry.file_id, sha256=entry.sha256)
        if entry.status == ledger.APPLIED and not reimport:
            incoming.unlink(missing_ok=True)
            return result(outcome.ALREADY_IMPORTED, file_id=entry.file_id, sha256=entry.sha256)
    note = _changed(remote, earlier, facts.sha256) if earlier is not None else None
    if note:
        log.warning("%s", note)

    path = ctx.landing_dir / ledger_name
    os.replace(incoming, path)
    try:
        structure = check_structure(path, facts)
    except ResponseFileError as exc:
        refused = ctx.landing_dir / REFUSED_DIR
        refused.mkdir(parents=True, exist_ok=True)
        os.replace(path, refused / ledger_name)
        log.error("%s (kept as %s)", exc, refused / ledger_name)
        return result(outcome.REFUSED, sha256=facts.sha256, error=str(exc), note=note)
    landed = LandedFile(path, KIND, facts.size, facts.sha256, -1)  # type: ignore[arg-type]
    if ctx.dry_run:
        return _dry_run(ctx, remote, landed, structure, result, note)

    with ctx.engine.begin() as conn:
        entry_now = ledger.register(
            conn, landed, source=remote.source, window=None, run_id=ctx.run_id, now=ctx.now
        )
    if entry_now.status == ledger.DUPLICATE:
        log.info(
            "%s: same content as applied file %s; nothing is applied", remote.name, entry_now.duplicate_of
        )
        return result(outcome.DUPLICATE, file_id=entry_now.file_id, sha256=facts.sha256, note=note)
    if entry_now.status == ledger.APPLIED and not reimport:
        return result(outcome.ALREADY_IMPORTED, file_id=entry_now.file_id, sha256=facts.sha256)
    try:
        with ctx.engine.begin() as conn:
            if reimport:
                _reopen(conn, entry_now.file_id)
            if not ledger.claim(conn, entry_now.file_id):  # a concurrent attempt applied it meanwhile
                return result(outcome.ALREADY_IMPORTED, file_id=entry_now.file_id, sha256=facts.sha256)
            applied = _apply(
                ctx, conn, path, structure, entry_now.file_id, reapplying=entry_now.status == ledger.APPLIED
            )
            _mark_applied(conn, entry_now.file_id, applied.counts, ctx.now)
    except Exception as exc:  # noqa: BLE001 - any failure: rolled back, recorded, the other files go on
        ledger.mark_failed(ctx.engine, entry_now.file_id, exc)
        message = mask_text(f"{type(exc).__name__}: {exc}")
        log.error("%s: not applied, rolled back: %s", remote.name, message)
        return result(
            outcome.FAILED, file_id=entry_now.file_id, sha256=facts.sha256, error=message, note=note
        )
    return _applied_report(result, outcome.APPLIED, entry_now.file_id, facts.sha256, applied, note)


def _dry_run(
    ctx: _Context, remote: RemoteFile, landed: LandedFile, structure: FileStructure, result, note: str | None
) -> ResponseFileReport:
    with ctx.engine.connect() as conn:
        transaction = conn.begin()
        try:
            sync_config_mapping(conn, ctx.settings.mailing_campaigns, ctx.now)
            entry = ledger.register(
                conn, landed, source=remote.source, window=None, run_id=ctx.run_id, now=ctx.now
            )
            if entry.status == ledger.DUPLICATE:
                return result(outcome.DUPLICATE, sha256=landed.sha256, note=note)
            applied = _apply(
                ctx, conn, landed.path, structure, entry.file_id, reapplying=entry.status == ledger.APPLIED
            )
        except Exception as exc:  # noqa: BLE001 - reported as this file's outcome of the dry run
            message = mask_text(f"{type(exc).__name__}: {exc}")
            return result(outcome.FAILED, sha256=landed.sha256, error=message, note=note)
        finally:
            transaction.rollback()
    return _applied_report(result, outcome.DRY_RUN, None, landed.sha256, applied, note)


def _apply(
    ctx: _Context,
    conn: sa.Connection,
    path: Path,
    structure: FileStructure,
    file_id: int,
    *,
    reapplying: bool = False,
) -> ApplyResult:
    return apply_response_file(
        conn,
        path,
        structure,
        file_id=file_id,
        list_consents=ctx.list_consents,
        derived_dir=ctx.landing_dir / DERIVED_DIR,
        now=ctx.now,
        chunk_rows=ctx.settings.chunk_rows,
        reapplying=reapplying,
        dates=event_date_rules(ctx.settings),
    )


def _applied_report(
    result, status: str, file_id: int | None, sha256: str, applied: ApplyResult, note: str | None = None
) -> ResponseFileReport:
    return result(
        status,
        file_id=file_id,
        sha256=sha256,
        counts=applied.counts,
        campaign_responses=applied.campaign_responses,
        entities_bounced=applied.entities_bounced,
        consents_revoked=applied.consents_revoked,
        closed_loop_mappings=applied.closed_loop_mappings,
        held_entities=applied.held_entities,
        untrusted_dates=applied.untrusted_dates,
        note=note,
    )


def _made(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def versioned_name(name: str, sha256: str) -> str:
    """The ledger name of new content under a name the ledger has for other content."""
    path = PurePosixPath(name)
    return f"{path.stem}.sha256-{sha256[:16]}{path.suffix}" if path.suffix else f"{name}.sha256-{sha256[:16]}"


def _identify(
    conn: sa.Connection, name: str, sha256: str
) -> tuple[str, _LedgerRow | None, _LedgerRow | None]:
    """``(ledger name, its entry if any, the entry of other content under the same name if any)``.

    The first content seen under a name is registered under that name, any other content under
    ``versioned_name``: a ledger entry is one (name, content) pair."""
    versioned = versioned_name(name, sha256)
    found = _ledger_rows(conn, [name, versioned])
    first = found.get(name)
    if first is None or first.sha256 == sha256:
        return name, first, None
    return versioned, found.get(versioned), first


def _changed(remote: RemoteFile, earlier: _LedgerRow, sha256: str) -> str:
    return (
        f"{remote.name}: new content under a known name (sha256 {sha256[:12]}; the ledger has file "
        f"{earlier.file_id} of this name with sha256 {earlier.sha256[:12]}, {earlier.size_bytes} bytes, "
        f"{earlier.status}): imported as a new file under {versioned_name(remote.name, sha256)}; events "
        "already imported count as known. Ask the platform why the file changed"
    )


def _ledger_rows(conn: sa.Connection, names: list[str]) -> dict[str, _LedgerRow]:
    found: dict[str, _LedgerRow] = {}
    for start in range(0, len(names), 500):
        rows = conn.execute(
            sa.select(
                file_ledger.c.file_name,
                file_ledger.c.file_id,
                file_ledger.c.kind,
                file_ledger.c.size_bytes,
                file_ledger.c.sha256,
                file_ledger.c.status,
            ).where(file_ledger.c.file_name.in_(names[start : start + 500]))
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


def known_names(engine: sa.Engine, names: Iterable[str]) -> set[str]:
    """Those of ``names`` the ledger has a response file of (some content of them was seen)."""
    with engine.connect() as conn:
        return {name for name, row in _ledger_rows(conn, list(names)).items() if row.kind == KIND.value}


def is_imported(engine: sa.Engine, name: str, sha256: str) -> bool:
    """The content ``sha256`` under ``name`` was applied (or is a duplicate of applied content)."""
    with engine.connect() as conn:
        _ledger_name, entry, _earlier = _identify(conn, name, sha256)
    return (
        entry is not None
        and entry.kind == KIND.value
        and entry.sha256 == sha256
        and entry.status in (ledger.APPLIED, ledger.DUPLICATE)
    )
