"""The end of an applied file: its counts and status in the ledger, in the apply's own transaction.

Both imports finish a file the same way, so its effect and its ``applied`` status commit together
(a crash leaves either both or neither). ``ignored`` is only counted by the response import.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from include.crm_sync.staging.tables import file_ledger

APPLIED = "applied"


class FileCounts(Protocol):
    read: int
    applied: int
    known: int
    rejected: int


def mark_applied(conn: sa.Connection, file_id: int, counts: FileCounts, now: datetime) -> None:
    """Inside the apply transaction: the file's counts and status ``applied``."""
    values = {
        "status": APPLIED,
        "rows_read": counts.read,
        "rows_applied": counts.applied,
        "rows_known": counts.known,
        "rows_rejected": counts.rejected,
        "error": None,
        "applied_at": now,
    }
    ignored = getattr(counts, "ignored", None)
    if ignored is not None:
        values["rows_ignored"] = ignored
    conn.execute(file_ledger.update().where(file_ledger.c.file_id == file_id).values(**values))
