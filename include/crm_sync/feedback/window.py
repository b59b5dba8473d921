"""Which platform time window to request for an export, and the retention-gap check.

The watermark of an export (``export_watermark``, e.g. ``optimizely:bounces``) is the platform
time up to which every export file has been applied. The next request covers
``[watermark - overlap, platform now)``: the platform selects by export-file time, so windows
overlap on purpose and the event keys de-duplicate. The platform only keeps response data for
``retention`` (Optimizely: 30 days); a watermark older than that means data may already be gone,
and the import refuses unless the operator explicitly accepts the gap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from include.crm_sync.feedback.errors import FeedbackGapError
from include.crm_sync.platforms.base import FeedbackKind
from include.crm_sync.staging.dml import upsert
from include.crm_sync.staging.tables import export_watermark

log = logging.getLogger(__name__)


def export_name(platform: str, kind: FeedbackKind) -> str:
    return f"{platform}:{kind.value}"


@dataclass(frozen=True, slots=True)
class Watermark:
    export_name: str
    watermark: datetime
    last_success_at: datetime
    last_file_id: int | None


@dataclass(frozen=True, slots=True)
class ExportWindow:
    export_name: str
    since: datetime
    until: datetime
    #: the previous watermark (None on the first import)
    previous: datetime | None
    #: set when the operator accepted a retention gap: the platform time range that may be lost
    gap: tuple[datetime, datetime] | None = None


def read_watermark(conn: sa.Connection, name: str) -> Watermark | None:
    row = conn.execute(sa.select(export_watermark).where(export_watermark.c.export_name == name)).first()
    if row is None:
        return None
    return Watermark(row.export_name, row.watermark, row.last_success_at, row.last_file_id)


def write_watermark(
    conn: sa.Connection, name: str, watermark: datetime, *, success_at: datetime, file_id: int | None
) -> None:
    """Set the watermark (insert or update); call inside the transaction that applied the file.

    One upsert, not update-then-insert: two imports writing the first watermark of an export at
    once would both find no row to update and both insert, and the second would fail on the key.
    """
    values = {
        "export_name": name,
        "watermark": watermark,
        "last_success_at": success_at,
        "last_file_id": file_id,
    }
    conn.execute(upsert(conn, export_watermark, [export_watermark.c.export_name], values))


def plan_window(
    name: str,
    previous: datetime | None,
    platform_now: datetime,
    *,
    overlap: timedelta,
    retention: timedelta,
    allow_gap: bool = False,
) -> ExportWindow:
    """The window to request next; raises ``FeedbackGapError`` if data may have been lost."""
    if overlap < timedelta(0) or retention <= timedelta(0):
        raise ValueError(f"overlap must be >= 0 and retention > 0 (got {overlap}, {retention})")
    oldest_kept = platform_now - retention
    if previous is None:
        log.info(
            "%s: first import, requesting everything the platform still keeps (since %s)",
            name,
            oldest_kept.isoformat(),
        )
        return ExportWindow(name, oldest_kept, platform_now, None)
    gap = None
    if previous < oldest_kept:
        message = (
            f"{name}: the last successful import reached platform time {previous.isoformat()}, "
            f"{platform_now - previous} ago, longer than the platform keeps response data ({retention}): "
            f"response data between {previous.isoformat()} and {oldest_kept.isoformat()} may be lost"
        )
        if not allow_gap:
            raise FeedbackGapError(
                message + ". Check the platform (or ask its support for the missing exports) and re-run "
                "with allow_gap=True to import what is still available and accept the gap."
            )
        log.warning("%s; importing anyway because allow_gap is set", message)
        gap = (previous, oldest_kept)
    if previous > platform_now:
        log.warning(
            "%s: watermark %s is ahead of the platform clock %s; overlapping from the platform clock",
            name,
            previous.isoformat(),
            platform_now.isoformat(),
        )
    since = min(previous, platform_now) - overlap
    return ExportWindow(name, since, platform_now, previous, gap)
