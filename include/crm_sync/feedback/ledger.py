"""The file ledger: every landed feedback file is registered by name, size and sha256.

States: ``received`` (registered, not applied yet) → ``applied`` (its whole effect is committed, in
the same transaction as the apply) or ``failed`` (the apply rolled back; a retry applies it again).
A file whose content (sha256) was already applied for the same kind is registered as
``duplicate`` and never applied again. Registering the same name again returns the existing
entry, so every step can be re-run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from include.crm_sync.feedback.counts import FeedbackCounts
from include.crm_sync.feedback.errors import LedgerConflictError
from include.crm_sync.feedback.landing import LandedFile
from include.crm_sync.imports import ledger_end
from include.crm_sync.masking import mask_text
from include.crm_sync.staging.tables import file_ledger

RECEIVED, APPLIED, FAILED, DUPLICATE = "received", "applied", "failed", "duplicate"
_ERROR_MAX = 4000


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    file_id: int
    file_name: str
    kind: str
    sha256: str
    status: str
    counts: FeedbackCounts | None
    #: for a duplicate: the applied file with the same content
    duplicate_of: int | None = None


def _entry(row: sa.Row, duplicate_of: int | None = None) -> LedgerEntry:
    counts = None
    if row.rows_read is not None:
        counts = FeedbackCounts(row.rows_read, row.rows_applied, row.rows_known, row.rows_rejected)
    return LedgerEntry(row.file_id, row.file_name, row.kind, row.sha256, row.status, counts, duplicate_of)


def register(
    conn: sa.Connection,
    landed: LandedFile,
    *,
    source: str | None,
    window: tuple[datetime, datetime] | None,
    run_id: str | None,
    now: datetime,
) -> LedgerEntry:
    """Register ``landed`` (idempotent by file name); marks it ``duplicate`` if its content was applied."""
    kind = landed.kind.value
    existing = conn.execute(sa.select(file_ledger).where(file_ledger.c.file_name == landed.name)).first()
    if existing is not None:
        if existing.sha256 != landed.sha256 or existing.kind != kind:
            raise LedgerConflictError(
                f"{landed.name}: already in the ledger as file {existing.file_id} ({existing.kind}, sha256 "
                f"{existing.sha256[:12]}) but the file now has sha256 {landed.sha256[:12]}; a landed file "
                "must never change. Move the new file aside and investigate."
            )
        return _entry(existing)
    applied_twin = conn.execute(
        sa.select(file_ledger.c.file_id, file_ledger.c.file_name)
        .where(
            file_ledger.c.kind == kind, file_ledger.c.sha256 == landed.sha256, file_ledger.c.status == APPLIED
        )
        .order_by(file_ledger.c.file_id)
        .limit(1)
    ).first()
    status = DUPLICATE if applied_twin is not None else RECEIVED
    note = (
        f"same content as applied file {applied_twin.file_id} ({applied_twin.file_name})"
        if applied_twin
        else None
    )
    file_id = conn.execute(
        file_ledger.insert().values(
            kind=kind,
            file_name=landed.name,
            size_bytes=landed.size_bytes,
            sha256=landed.sha256,
            source=source,
            window_since=window[0] if window else None,
            window_until=window[1] if window else None,
            run_id=run_id,
            status=status,
            error=note,
            received_at=now,
        )
    ).inserted_primary_key[0]
    row = conn.execute(sa.select(file_ledger).where(file_ledger.c.file_id == file_id)).one()
    return _entry(row, applied_twin.file_id if applied_twin else None)


def claim(conn: sa.Connection, file_id: int) -> bool:
    """First statement of the apply transaction: lock the ledger row if the file still needs applying.

    False if another attempt applied it meanwhile (the row lock makes a concurrent attempt wait for
    the first to commit, then see ``applied``).
    """
    claimed = conn.execute(
        file_ledger.update()
        .where(file_ledger.c.file_id == file_id, file_ledger.c.status.in_((RECEIVED, FAILED)))
        .values(status=file_ledger.c.status)
    )
    return claimed.rowcount == 1


def mark_applied(conn: sa.Connection, file_id: int, counts: FeedbackCounts, now: datetime) -> None:
    """Inside the apply transaction: the file's effect and this status commit together."""
    ledger_end.mark_applied(conn, file_id, counts, now)


def mark_failed(engine: sa.Engine, file_id: int, error: BaseException) -> None:
    """After the apply rolled back, in a transaction of its own (never turns ``applied`` into failed)."""
    text = mask_text(f"{type(error).__name__}: {error}")[:_ERROR_MAX]
    with engine.begin() as conn:
        conn.execute(
            file_ledger.update()
            .where(file_ledger.c.file_id == file_id, file_ledger.c.status.in_((RECEIVED, FAILED)))
            .values(status=FAILED, error=text)
        )
