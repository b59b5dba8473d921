"""Column order of the ClosedLoop exports - the one table the importer maps rows by.

Every export method has the shape ``String[][] <method>(sessionId, long sinceMs, long untilMs,
int startRow, int numberOfRows)`` and returns rows of strings whose meaning is given by
position only (the platform does not document it; the emulator documents this order in its
WSDL and README). Timestamps are ISO-8601 UTC (``2026-11-25T23:12:01Z``).

A row with fewer columns than listed is an error (a shifted mapping would load wrong data
silently); extra trailing columns are tolerated and kept in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType

from include.crm_sync.platforms.base import PermanentPlatformError

#: export method -> column names, by position
CLOSED_LOOP_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "getUnsubscribes": ("recipient_id", "email", "recipient_list_id", "unsubscribed_at"),
        "getMailingUnsubscribes": (
            "recipient_id",
            "email",
            "mailing_id",
            "recipient_list_id",
            "unsubscribed_at",
        ),
        "getOutBounces": (
            "recipient_id",
            "email",
            "recipient_list_id",
            "hard_bounce_count",
            "soft_bounce_count",
            "last_bounce_at",
        ),
        "getResponses": (
            "recipient_id",
            "email",
            "mailing_id",
            "recipient_list_id",
            "category",
            "occurred_at",
        ),
        "getOpens": ("recipient_id", "email", "mailing_id", "recipient_list_id", "occurred_at"),
        "getClicks": ("recipient_id", "email", "mailing_id", "recipient_list_id", "occurred_at", "link_url"),
    }
)

#: the column holding the row's event time, per method
TIME_COLUMN: Mapping[str, str] = MappingProxyType(
    {method: next(c for c in columns if c.endswith("_at")) for method, columns in CLOSED_LOOP_COLUMNS.items()}
)

#: the most rows one export call returns
MAX_ROWS_PER_CALL = 1000


class MalformedExportRowError(PermanentPlatformError):
    """An export row does not fit the column table."""


def row_as_dict(method: str, row: Sequence[str | None]) -> dict[str, str | None]:
    """Name the columns of one row of ``method``; empty strings become ``None``."""
    try:
        columns = CLOSED_LOOP_COLUMNS[method]
    except KeyError:
        raise ValueError(
            f"unknown ClosedLoop export {method!r}; known: {sorted(CLOSED_LOOP_COLUMNS)}"
        ) from None
    if len(row) < len(columns):
        raise MalformedExportRowError(
            f"ClosedLoop.{method} returned a row of {len(row)} columns, expected {len(columns)} "
            f"({', '.join(columns)})"
        )
    # strict=False: a row may carry more columns than the known ones (only shorter rows are rejected).
    return {
        name: (value if value not in ("", None) else None) for name, value in zip(columns, row, strict=False)
    }


def parse_timestamp(value: str | None, *, method: str, column: str) -> datetime:
    """ISO-8601 (``...Z`` or with offset) or epoch milliseconds -> aware UTC ``datetime``."""
    if not value:
        raise MalformedExportRowError(f"ClosedLoop.{method}: empty {column}")
    text = value.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedExportRowError(f"ClosedLoop.{method}: {column} {text!r} is not a timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the export is documented as UTC
    return parsed.astimezone(UTC)
