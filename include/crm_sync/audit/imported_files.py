"""What the imported files did to the CRM, per kind: rows read = applied + known + ignored + rejected.

The ledger's counts, summed per kind of file. A row the platform delivers twice (in an SFTP response
file and again in the next night's ClosedLoop export, under another event key) is "known" the second
time: the feedback apply counts it so (``sql/feedback/redelivered_<kind>.sql``), so the ledger, the
import's log and this summary agree. Used by the demo's closing lines; counts only, no addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from include.crm_sync.staging.tables import file_ledger


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


def imported_files(engine: sa.Engine) -> list[ImportedKind]:
    """Applied files per kind, their rows summed from the ledger."""
    with engine.connect() as conn:
        ledger = conn.execute(
            sa.select(
                file_ledger.c.kind,
                file_ledger.c.rows_read,
                file_ledger.c.rows_applied,
                file_ledger.c.rows_known,
                file_ledger.c.rows_ignored,
                file_ledger.c.rows_rejected,
            ).where(file_ledger.c.status == "applied")
        ).all()
    totals: dict[str, list[int]] = {}
    for kind, *counts in ledger:
        t = totals.setdefault(kind, [0, 0, 0, 0, 0, 0])
        for i, value in enumerate((1, *counts)):
            t[i] += value or 0
    return [ImportedKind(kind, *values) for kind, values in sorted(totals.items())]
