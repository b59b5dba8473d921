"""Read a landing file: check its structure, then stream-parse and validate it in chunks.

Two passes over the file, both streaming with flat memory:

1. ``check_structure``: strict UTF-8, the header (exactly the columns of ``csv_schema``), and
   every record having exactly that many fields. Any failure is a ``FeedbackFileError`` naming
   the file and line, raised before anything is applied: the whole file is refused. It also
   counts the records (an independent count for the read = applied + known + rejected check) and
   maps records to physical line numbers (a quoted field may span lines).
2. ``read_chunks``: pandas in chunks (``dtype=str``, strict UTF-8). Each row is validated (whole
   chunk at a time). Every row is a "no", so it is only rejected (a ``RejectedRow`` with line,
   field, reason, and a hold candidate) when it cannot be applied: an unknown category, or neither
   a usable recipient id nor a usable address (see ``_validate``). Kept rows are normalised
   (trimmed ids, lower-cased e-mail, UTC time; an untrusted time replaced by the time of receipt)
   and get their ``event_key``.

Line numbers are 1-based physical lines with the header on line 1.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from include.crm_sync.feedback.csv_schema import (
    CATEGORIES,
    COLUMN_NAMES,
    COLUMNS,
    ENCODING,
)
from include.crm_sync.feedback.errors import FeedbackFileError
from include.crm_sync.feedback.event_key import event_keys
from include.crm_sync.imports.csv_header import header_problems
from include.crm_sync.imports.event_dates import EventDateRules, utc_text
from include.crm_sync.imports.holds import HoldCandidate
from include.crm_sync.imports.row_checks import column_problems
from include.crm_sync.iso_times import parse_offset_times
from include.crm_sync.platforms.base import FeedbackKind

#: rows per pandas chunk. 20,000, not 50,000: the import's peak RSS grew by about one chunk's worth
#: from the second chunk on (freed chunks are not reused exactly), so at 50,000 a 1M-row import
#: peaked at 1.23x a 100k-row one (292 vs 238 MB); at 20,000 1.09x (213 vs 196 MB), every chunk
#: being applied by the same set-based SQL per file (bench/run.py --only feedback, both sizes)
DEFAULT_CHUNK_ROWS = 20_000
_RAW_MAX = 2000
_NO_IDENTITY = "neither a usable recipient id nor a usable e-mail"
_MALFORMED_TIME = "malformed timestamp (expected ISO 8601 with UTC offset)"

#: the columns of ``LoadedChunk.rows``, handed to the apply step
NORMALISED_COLUMNS = (
    "line_no",
    "event_key",
    "recipient_id",
    "email_normalized",
    "category",
    "marks_bounced",
    "occurred_at",
    "list_id",
    "mailing_id",
)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line_no: int
    field: str | None
    reason: str
    raw: str | None


@dataclass(slots=True)
class FileStructure:
    """Result of the structure pass: number of data records and where each starts."""

    records: int = 0
    #: change points (record index, extra lines before it) for records spanning several lines
    _starts: list[int] = field(default_factory=list)
    _extra: list[int] = field(default_factory=list)

    def lines_of(self, records: np.ndarray) -> np.ndarray:
        """Physical lines (header = 1) of the 0-based data records ``records``."""
        if not self._starts:
            return records + 2
        pos = np.searchsorted(np.asarray(self._starts), records, side="right") - 1
        extra = np.where(pos >= 0, np.asarray(self._extra)[np.maximum(pos, 0)], 0)
        return records + 2 + extra


@dataclass(slots=True)
class LoadedChunk:
    #: valid rows, column-wise: NORMALISED_COLUMNS -> values (``None`` for empty; ``occurred_at``
    #: as canonical UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, which sorts like the time)
    rows: dict[str, list]
    rejected: list[RejectedRow]
    #: the rejected rows as the ids and addresses they name (the fail-safe holds those the CRM knows)
    holds: list[HoldCandidate] = field(default_factory=list)
    #: applied rows whose event time was replaced by the time of receipt, by reason
    untrusted_dates: Counter[str] = field(default_factory=Counter)
    #: values not used (ids, addresses) or stored as NULL (list, mailing ids), by column and reason
    neutralised: Counter[str] = field(default_factory=Counter)
    #: kept rows with an unusable id or address: hold candidates should the row match nobody
    holds_unless_found: list[HoldCandidate] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows["line_no"])


def check_structure(path: Path) -> FileStructure:
    """Refuse the file (``FeedbackFileError``) unless it is UTF-8 with the right header and field counts."""
    name = path.name
    structure = FileStructure()
    reader = None
    try:
        with open(path, encoding=ENCODING, errors="strict", newline="") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            _check_header(name, header)
            expected = len(COLUMN_NAMES)
            previous_end = reader.line_num
            extra = 0
            for record, row in enumerate(reader):
                start = previous_end + 1
                previous_end = reader.line_num
                if len(row) != expected:
                    what = "is empty" if not row else f"has {len(row)} fields, expected {expected}"
                    raise FeedbackFileError(
                        f"{name}: line {start} {what} ({', '.join(COLUMN_NAMES)}); the file is refused"
                    )
                if start - (record + 2) != extra:
                    extra = start - (record + 2)
                    structure._starts.append(record)
                    structure._extra.append(extra)
                structure.records = record + 1
    except UnicodeDecodeError as exc:
        raise FeedbackFileError(
            f"{name}: line {_line_of_bad_utf8(path)} is not valid UTF-8 ({exc.reason}); the file is refused"
        ) from None
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 1
        raise FeedbackFileError(f"{name}: line {line}: malformed CSV ({exc}); the file is refused") from None
    return structure


def _check_header(name: str, header: list[str] | None) -> None:
    if header is None:
        raise FeedbackFileError(
            f"{name}: the file is empty (no header line); expected {', '.join(COLUMN_NAMES)}"
        )
    problems = header_problems(header, COLUMN_NAMES, "write UTF-8 without BOM")
    if problems:
        raise FeedbackFileError(
            f"{name}: line 1: wrong header: {'; '.join(problems)}; expected {', '.join(COLUMN_NAMES)}. "
            "The file is refused; nothing was applied"
        )


def _line_of_bad_utf8(path: Path) -> int:
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode(ENCODING)
            except UnicodeDecodeError:
                return number
    return 1


def read_chunks(
    path: Path,
    kind: FeedbackKind,
    structure: FileStructure,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    now: datetime | None = None,
    dates: EventDateRules | None = None,
) -> Iterator[LoadedChunk]:
    """Validated, normalised chunks of ``path`` (call ``check_structure`` first); ``now`` is the time
    of receipt (default: the clock), given to events whose date cannot be trusted."""
    seen = 0
    received = now or datetime.now(UTC)
    dates = dates or EventDateRules()
    try:
        reader = pd.read_csv(
            path,
            dtype=str,
            na_filter=False,
            encoding=ENCODING,
            encoding_errors="strict",
            chunksize=chunk_rows,
            skip_blank_lines=False,
        )
        with reader:
            for frame in reader:
                yield _validate(frame, kind, structure, seen, path.name, received, dates)
                seen += len(frame)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise FeedbackFileError(f"{path.name}: unreadable after the structure check: {exc}") from None
    if seen != structure.records:
        raise FeedbackFileError(
            f"{path.name}: pandas read {seen} rows but the structure check counted {structure.records}; "
            "the file is refused"
        )


def _validate(
    frame: pd.DataFrame,
    kind: FeedbackKind,
    structure: FileStructure,
    first: int,
    name: str,
    now: datetime,
    dates: EventDateRules,
) -> LoadedChunk:
    """One chunk. Every row is a "no" (a bounce or an unsubscribe), so a row is only rejected when it
    cannot be applied at all: an unknown category, or no field that identifies its person.

    Per column (``row_checks.column_problems``: a non-printable character, longer than the column;
    the formula guard is not applied, addresses may start with ``-``, ``+``, ``=``): a recipient id
    or address failing a check is not used to identify the person (the other may still do); a
    list or mailing id failing one is stored as NULL (an unsubscribe from an unknown list revokes
    every marketing consent). A malformed or untrusted event time (``event_dates``) is replaced by
    the time of receipt and reported. Rejected rows that name a CRM person become hold candidates.
    """
    if sorted(frame.columns) != sorted(COLUMN_NAMES):  # guarded by check_structure
        raise FeedbackFileError(f"{name}: columns changed while reading: {list(frame.columns)}")
    n = len(frame)
    lines = structure.lines_of(np.arange(first, first + n))
    raw = {c: frame[c].tolist() for c in COLUMN_NAMES}
    value = {c: list(map(str.strip, raw[c])) for c in COLUMN_NAMES}
    stored = {c: list(value[c]) for c in ("list_id", "mailing_id")}
    reason: list[str | None] = [None] * n
    failed: list[str | None] = [None] * n
    unusable: dict[str, dict[int, str]] = {"recipient_id": {}, "email": {}}
    neutralised: Counter[str] = Counter()

    def mark(column: str, why: str, hits: Iterable[int]) -> None:
        for i in hits:  # row indexes; usually none or a few
            if reason[i] is None:
                reason[i], failed[i] = why, column

    for spec in COLUMNS:
        column = spec.name
        problems = column_problems(raw[column], value[column], spec.max_length, formula_guard=False)
        if not problems or column in ("category", "occurred_at"):  # judged by their own checks below
            continue
        for i, why in problems.items():
            neutralised[f"{column}: {why}"] += 1
            if column in unusable:
                unusable[column][i] = why
            else:
                stored[column][i] = ""
    allowed = CATEGORIES[kind]
    if not set(value["category"]) <= allowed.keys():
        mark(
            "category",
            f"unknown category for {kind.value} (expected {' | '.join(sorted(allowed))})",
            [i for i, v in enumerate(value["category"]) if v not in allowed],
        )
    ids, emails = value["recipient_id"], value["email"]
    if not all(ids) or unusable["recipient_id"]:
        mark(
            "recipient_id",
            _NO_IDENTITY,
            [
                i
                for i in range(n)
                if (not ids[i] or i in unusable["recipient_id"]) and (not emails[i] or i in unusable["email"])
            ],
        )

    # the landing writer's own form, …T…:…:….ffffffZ, is 27 characters long
    times, bad_times = parse_offset_times(value["occurred_at"], 27)
    utc = times.to_numpy(dtype="datetime64[us]")
    key_times = [t + "Z" for t in np.datetime_as_string(utc, unit="us").tolist()]
    occurred = list(key_times)
    untrusted: Counter[str] = Counter()
    distrust = dates.untrusted(utc, now)
    if bad_times.any() or any(distrust):
        received = utc_text(now)
        for i in range(n):
            why = _MALFORMED_TIME if bad_times[i] else distrust[i]
            if why is None:
                continue
            if bad_times[i]:  # the event's identity keeps the text as the platform sent it
                key_times[i] = value["occurred_at"][i]
            occurred[i] = received
            if reason[i] is None:
                untrusted[why] += 1

    bad = [i for i, r in enumerate(reason) if r is not None]
    rejected = [
        RejectedRow(int(lines[i]), failed[i], str(reason[i]), _raw([raw[c][i] for c in COLUMN_NAMES]))
        for i in bad
    ]
    holds = [
        HoldCandidate(int(lines[i]), str(reason[i]), (value["recipient_id"][i],), (value["email"][i],))
        for i in bad
    ]
    # a kept row found by one field while another was unusable: if it finds nobody, the unusable
    # value may still name a CRM person (the apply holds them then)
    partly = sorted({i for rows in unusable.values() for i in rows} - set(bad))
    unless_found = [
        HoldCandidate(
            int(lines[i]),
            f"unknown recipient; not used: {_unusable_text(unusable, i)}",
            (value["recipient_id"][i],),
            (value["email"][i],),
        )
        for i in partly
    ]
    key_ids, key_emails, key_lists = list(ids), [v.lower() for v in emails], list(value["list_id"])
    for column, rows in unusable.items():
        for i in rows:
            value[column][i] = ""
    line_list = lines.tolist()
    if bad:
        good = np.ones(n, dtype=bool)
        good[bad] = False
        keep = np.flatnonzero(good).tolist()

        def pick(values: list) -> list:
            return [values[i] for i in keep]
    else:
        pick = list
    # the identity of an event is what the platform sent, neutralised values included
    keys = event_keys(
        kind.value,
        pick(key_ids),
        pick(key_emails),
        pick(value["category"]),
        pick(key_times),
        pick(key_lists),
        pick(value["mailing_id"]),
    )
    rows = _normalise(
        kind,
        pick(line_list),
        {c: pick(value[c]) for c in COLUMN_NAMES},
        {c: pick(stored[c]) for c in stored},
        pick(occurred),
        keys,
    )
    return LoadedChunk(rows, rejected, holds, untrusted, neutralised, unless_found)


def _unusable_text(unusable: dict[str, dict[int, str]], i: int) -> str:
    return "; ".join(f"{column} ({rows[i]})" for column, rows in unusable.items() if i in rows)


def _raw(values: list[str]) -> str:
    return json.dumps(dict(zip(COLUMN_NAMES, values, strict=True)), ensure_ascii=True)[:_RAW_MAX]


def _normalise(
    kind: FeedbackKind,
    lines: list[int],
    value: dict[str, list[str]],
    stored: dict[str, list[str]],
    times: list[str],
    keys: list[str],
) -> dict[str, list]:
    """Stage columns of the kept rows; ``value`` holds "" for identifying values not to be used."""
    marks = CATEGORIES[kind]
    category = value["category"]
    return {
        "line_no": lines,
        "event_key": keys,
        "recipient_id": [v or None for v in value["recipient_id"]],
        "email_normalized": [v.lower() or None for v in value["email"]],
        "category": category,
        "marks_bounced": [int(marks[c]) for c in category],
        "occurred_at": times,
        "list_id": [v or None for v in stored["list_id"]],
        "mailing_id": [v or None for v in stored["mailing_id"]],
    }
