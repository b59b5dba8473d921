"""What the imported files did to the CRM, per kind: rows read = applied + known + ignored + rejected.

The ledger counts a row "applied" when it stored a new bounce or unsubscribe event. The platform
delivers the same event twice, though: in the SFTP response files (response import) and in the
ClosedLoop export of the next night's feedback import. The two copies differ in fields the event
key hashes (the response file's e-mail, for one), so the second import stores the event again and
its ledger calls the row applied, although the first import already put its effect in the CRM.

This summary corrects that, read-only: a row whose every stored event re-delivers an event an
earlier file stored for the same entity (same kind and category, same time, same mailing) is
"known", not "applied". Used by the demo's closing lines; counts only, no addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from include.crm_sync.staging.tables import feedback_bounce, feedback_unsubscribe, file_ledger


@dataclass(frozen=True)
class ImportedKind:
    """The files of one kind (bounces, unsubscribes, responses) and their rows, every row accounted for."""

    kind: str
    files: int
    read: int
    applied: int
    known: int
    ignored: int
    rejected: int

    @property
    def adds_up(self) -> bool:
        return self.read == self.applied + self.known + self.ignored + self.rejected


def _event_lines(conn: sa.Connection, table: sa.Table, same: tuple[str, ...]) -> dict[int, tuple[int, int]]:
    """file id -> (lines that stored an event for a CRM entity, those of them with an event no earlier
    file had stored for that entity)."""
    row, earlier = table.alias("row"), table.alias("earlier")
    twin = (
        sa.select(sa.literal(1))
        .where(earlier.c.file_id < row.c.file_id, earlier.c.entity_id == row.c.entity_id)
        .where(*(earlier.c[name].is_not_distinct_from(row.c[name]) for name in same))
        .exists()
    )
    lines = (
        sa.select(row.c.file_id, row.c.line_no, sa.func.max(sa.case((twin, 0), else_=1)).label("new"))
        .where(row.c.entity_id.is_not(None))
        .group_by(row.c.file_id, row.c.line_no)
        .subquery()
    )
    query = sa.select(lines.c.file_id, sa.func.count(), sa.func.sum(lines.c.new)).group_by(lines.c.file_id)
    return {file_id: (total, int(new or 0)) for file_id, total, new in conn.execute(query)}


def imported_files(engine: sa.Engine) -> list[ImportedKind]:
    """Applied files per kind, with re-delivered events counted as known (see the module docstring)."""
    with engine.connect() as conn:
        ledger = conn.execute(
            sa.select(
                file_ledger.c.file_id,
                file_ledger.c.kind,
                file_ledger.c.rows_read,
                file_ledger.c.rows_applied,
                file_ledger.c.rows_known,
                file_ledger.c.rows_ignored,
                file_ledger.c.rows_rejected,
            ).where(file_ledger.c.status == "applied")
        ).all()
        events = _event_lines(conn, feedback_bounce, ("category", "occurred_at", "mailing_id"))
        for file_id, (total, new) in _event_lines(
            conn, feedback_unsubscribe, ("occurred_at", "mailing_id")
        ).items():
            before = events.get(file_id, (0, 0))
            events[file_id] = (before[0] + total, before[1] + new)
    totals: dict[str, list[int]] = {}
    for file_id, kind, read, applied, known, ignored, rejected in ledger:
        stored, new = events.get(file_id, (0, 0))
        redelivered = min(applied or 0, stored - new)
        applied, known = (applied or 0) - redelivered, (known or 0) + redelivered
        t = totals.setdefault(kind, [0, 0, 0, 0, 0, 0])
        for i, value in enumerate((1, read or 0, applied, known, ignored or 0, rejected or 0)):
            t[i] += value
    return [ImportedKind(kind, *values) for kind, values in sorted(totals.items())]
