"""Gap detection: the platform deletes response files after their lifetime (14-30 days).

The last successful import is recorded as the ``export_watermark`` row ``<platform>:response_files``
(``last_success_at``; the feedback import's watermark table and functions). If it is older than the
files' lifetime, files written in between may already be gone: the import refuses with a message
saying so, unless the operator accepts the gap (``allow_gap``), which is logged and reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from include.crm_sync.feedback.window import read_watermark, write_watermark
from include.crm_sync.responses.errors import ResponseGapError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GapCheck:
    #: when the last import succeeded (None: never)
    last_success_at: datetime | None
    #: the period whose files may be lost, when the operator accepted a gap
    gap: tuple[datetime, datetime] | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "gap": [self.gap[0].isoformat(), self.gap[1].isoformat()] if self.gap else None,
        }


def check_gap(
    conn: sa.Connection, export_name: str, *, now: datetime, lifetime: timedelta, allow_gap: bool = False
) -> GapCheck:
    """Raise ``ResponseGapError`` if the last successful import is older than ``lifetime``."""
    previous = read_watermark(conn, export_name)
    if previous is None:
        log.info("%s: first import; every response file still on the server is imported", export_name)
        return GapCheck(None)
    last = previous.last_success_at
    oldest_kept = now - lifetime
    if last >= oldest_kept:
        return GapCheck(last)
    message = (
        f"{export_name}: the last successful response import was at {last.isoformat()}, {now - last} ago, "
        f"longer than the platform keeps response files ({lifetime}): files written between "
        f"{last.isoformat()} and {oldest_kept.isoformat()} may have been deleted before they were imported, "
        "so response data (bounces, unsubscribes, opens, clicks) may be lost"
    )
    if not allow_gap:
        raise ResponseGapError(
            message + ". Check with the platform (or its support) whether those files can be recovered, then "
            "trigger the DAG with allow_gap=true to import what is still there and accept the gap."
        )
    log.warning("%s; importing anyway because allow_gap is set", message)
    return GapCheck(last, (last, oldest_kept))


def record_success(conn: sa.Connection, export_name: str, *, now: datetime, last_file_id: int | None) -> None:
    """Inside a transaction: the import up to ``now`` succeeded (every listed file dealt with).

    An upsert (``write_watermark``): two first imports at once both succeed, the later one wins.
    """
    write_watermark(conn, export_name, now, success_at=now, file_id=last_file_id)
