"""The landing-file format of the bounce and unsubscribe exports, in one table.

Both exports land as CSV (UTF-8, no BOM, one header row, ``\\n`` line ends, RFC 4180 quoting) with
the same columns; the writer (``landing.py``) and the loader (``load.py``) both read this table,
so the format is defined exactly once. Columns are matched by name; a header with a missing,
extra or repeated column refuses the whole file.

Timestamps are ISO 8601 with seconds and an explicit offset (``Z`` or ``+hh:mm``; the writer
emits ``2025-01-31T23:59:59.123000Z``); one without offset, or an impossible date, is malformed,
never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from include.crm_sync.platforms.base import FeedbackKind, FeedbackRow
from include.crm_sync.staging.tables import EMAIL, ID


@dataclass(frozen=True, slots=True)
class CsvColumn:
    name: str
    max_length: int
    description: str


#: The landing-file columns, in file order.
COLUMNS: tuple[CsvColumn, ...] = (
    CsvColumn("recipient_id", ID.length, "recipient id as uploaded (the CRM entity id); empty if unknown"),
    CsvColumn("email", EMAIL.length, "address as the platform exported it; empty if unknown"),
    CsvColumn("category", 32, "hardbounce | softbounce | overflow (bounces); unsubscribe (unsubscribes)"),
    CsvColumn("occurred_at", 40, "event time, ISO 8601 UTC with offset"),
    CsvColumn("list_id", 64, "platform list the event came from, if the platform says"),
    CsvColumn("mailing_id", 64, "platform mailing id, if any"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

#: Category → does it mark the CRM entity as bounced? Unknown categories are rejected rows.
CATEGORIES: dict[FeedbackKind, dict[str, bool]] = {
    FeedbackKind.BOUNCES: {"hardbounce": True, "overflow": True, "softbounce": False},
    FeedbackKind.UNSUBSCRIBES: {"unsubscribe": False},
}

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

ENCODING = "utf-8"
LINE_TERMINATOR = "\n"


def row_values(row: FeedbackRow) -> list[str]:
    """One ``FeedbackRow`` as the landing file's fields, in ``COLUMN_NAMES`` order."""
    if row.occurred_at.tzinfo is None:
        raise ValueError("feedback row with a naive occurred_at: the platform client must return UTC times")
    return [
        row.recipient_id or "",
        row.email or "",
        row.category,
        row.occurred_at.astimezone(UTC).strftime(TIMESTAMP_FORMAT),
        row.list_id or "",
        row.mailing_id or "",
    ]
