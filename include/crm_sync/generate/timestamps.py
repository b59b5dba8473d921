"""Fast conversion of epoch seconds to the canonical timestamp text the generator writes.

The generator draws times as integer seconds since 1970 (UTC) and needs millions of them as text;
``datetime.strftime`` would dominate the run time. Two lookup tables -- one string per day, one per
second of the day -- turn it into an index and a concatenation.

The text is ``YYYY-MM-DD HH:MM:SS.000000``, naive UTC: exactly what SQLAlchemy stores for a
``DateTime`` on SQLite, and what PostgreSQL's COPY reads correctly into ``timestamptz`` when the
session time zone is UTC (the PostgreSQL writer sets it). One text, both dialects, same bytes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache

SECONDS_PER_DAY = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_ORDINAL = date(1970, 1, 1).toordinal()
_LAST_ORDINAL = date(2100, 1, 1).toordinal()


@cache
def day_texts() -> tuple[str, ...]:
    """``'YYYY-MM-DD'`` for every day from 1970-01-01 (index 0) to 2099-12-31."""
    return tuple(date.fromordinal(o).isoformat() for o in range(_FIRST_ORDINAL, _LAST_ORDINAL))


@cache
def time_of_day_texts() -> tuple[str, ...]:
    """``' HH:MM:SS.000000'`` for every second of a day (index = seconds since midnight)."""
    return tuple(f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000" for s in range(SECONDS_PER_DAY))


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970-01-01 UTC of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: attach a time zone")
    return int((moment - _EPOCH).total_seconds())


def timestamp_text(seconds: int) -> str:
    """Canonical text of an epoch-seconds value (hot loops inline the same two lookups)."""
    day, second = divmod(seconds, SECONDS_PER_DAY)
    return day_texts()[day] + time_of_day_texts()[second]
