"""Read a landing file: check its structure, then stream-parse and validate it in chunks.

Two passes over the file, both streaming with flat memory:

1. ``check_structure``: strict UTF-8, the header (exactly the columns of ``csv_schema``), and
   every record having exactly that many fields. Any failure is a ``FeedbackFileError`` naming
   the file and line, raised before anything is applied: the whole file is refused. It also
   counts the records (an independent count for the read = applied + known + rejected check) and
   maps records to physical line numbers (a quoted field may span lines).
2. ``read_chunks``: pandas in chunks (``dtype=str``, strict UTF-8). Each row is validated (whole
   chunk at a time); a failing row becomes a ``RejectedRow`` (line, field, reason) with its first
   failing check (see ``_validate``). Valid rows are normalised (trimmed ids, lower-cased
   e-mail, UTC time) and get their ``event_key``.

Line numbers are 1-based physical lines with the header on line 1.
"""

from __future__ import annotations

import bisect
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
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
from include.crm_sync.iso_times import parse_offset_times
from include.crm_sync.platforms.base import FeedbackKind

DEFAULT_CHUNK_ROWS = 50_000
_RAW_MAX = 2000
_BOM = "\ufeff"
#: spreadsheet formula triggers, checked after leading blanks (CSV injection)
_FORMULA_TRIGGERS = frozenset("=+-@")
_FORMULA_PREFIXES = tuple(sorted(_FORMULA_TRIGGERS))
_FORMULA = "value starts with a formula trigger (= + - @; CSV injection guard)"
_NON_PRINTABLE = "control or other non-printable character in value (CSV/XML injection guard)"

#: the columns of ``LoadedChunk.rows``, handed to the apply step
NORMALISED_COLUMNS = (
    "line_no", "event_key", "recipient_id", "email_normalized", "category", "marks_bounced",
    "occurred_at", "list_id", "mailing_id",
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
        raise FeedbackFileError(f"{name}: the file is empty (no header line); expected {', '.join(COLUMN_NAMES)}")
    problems = []
    if header and header[0].startswith(_BOM):
        problems.append("it starts with a byte-order mark (write UTF-8 without BOM)")
        header = [header[0].removeprefix(_BOM), *header[1:]]
    missing = [c for c in COLUMN_NAMES if c not in header]
    extra = [c for c in header if c not in COLUMN_NAMES]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(repr(c[:40]) for c in extra)}")
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
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
    path: Path, kind: FeedbackKind, structure: FileStructure, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[LoadedChunk]:
    """Validated, normalised chunks of ``path`` (call ``check_structure`` first)."""
    seen = 0
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
                yield _validate(frame, kind, structure, seen, path.name)
                seen += len(frame)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise FeedbackFileError(f"{path.name}: unreadable after the structure check: {exc}") from None
    if seen != structure.records:
        raise FeedbackFileError(
            f"{path.name}: pandas read {seen} rows but the structure check counted {structure.records}; "
            "the file is refused"
        )


def _validate(
    frame: pd.DataFrame, kind: FeedbackKind, structure: FileStructure, first: int, name: str
) -> LoadedChunk:
    """One chunk: the first failing check per row becomes its rejection; the rest is normalised.

    Checks, in the order they are reported: per column a non-printable character (C0/C1
    controls, line/paragraph separators, zero-width and bidi format characters), a leading
    formula trigger, the length limit; then the category, the timestamp, and that there is a
    recipient id or an e-mail. Plain list comprehensions where pandas' python-backed string
    methods are slower; pandas parses the times.
    """
    if sorted(frame.columns) != sorted(COLUMN_NAMES):  # guarded by check_structure
        raise FeedbackFileError(f"{name}: columns changed while reading: {list(frame.columns)}")
    n = len(frame)
    lines = structure.lines_of(np.arange(first, first + n))
    raw = {c: frame[c].tolist() for c in COLUMN_NAMES}
    value = {c: list(map(str.strip, raw[c])) for c in COLUMN_NAMES}
    reason: list[str | None] = [None] * n
    failed: list[str | None] = [None] * n

    def mark(column: str, why: str, hits: Iterable[int]) -> None:
        for i in hits:  # row indexes; usually none or a few
            if reason[i] is None:
                reason[i], failed[i] = why, column

    for spec in COLUMNS:
        column, limit, raws, values = spec.name, spec.max_length, raw[spec.name], value[spec.name]
        # whole-column tests in C first; the per-row scan only runs for a column that fails one
        suspect_chars = not "".join(raws).isprintable()
        suspect_formula = any(map(str.startswith, values, repeat(_FORMULA_PREFIXES)))
        suspect_length = max(map(len, values), default=0) > limit
        if not (suspect_chars or suspect_formula or suspect_length):
            continue
        suspects = [i for i, (r, v) in enumerate(zip(raws, values, strict=True))
                    if not r.isprintable() or v[:1] in _FORMULA_TRIGGERS or len(v) > limit]
        mark(column, _NON_PRINTABLE, (i for i in suspects if not raws[i].isprintable()))
        mark(column, _FORMULA, (i for i in suspects if values[i][:1] in _FORMULA_TRIGGERS))
        mark(column, f"longer than {limit} characters", (i for i in suspects if len(values[i]) > limit))
    allowed = CATEGORIES[kind]
    if not set(value["category"]) <= allowed.keys():
        mark("category", f"unknown category for {kind.value} (expected {' | '.join(sorted(allowed))})",
             [i for i, v in enumerate(value["category"]) if v not in allowed])
    # the landing writer's own form, …T…:…:….ffffffZ, is 27 characters long
    times, bad_times = parse_offset_times(value["occurred_at"], 27)
    if bad_times.any():
        mark("occurred_at", "malformed timestamp (expected ISO 8601 with UTC offset)",
             np.flatnonzero(bad_times).tolist())
    if not all(value["recipient_id"]):
        mark("recipient_id", "neither recipient id nor e-mail",
             [i for i, (r, e) in enumerate(zip(value["recipient_id"], value["email"], strict=True))
              if not r and not e])

    bad = [i for i, r in enumerate(reason) if r is not None]
    rejected = [
        RejectedRow(int(lines[i]), failed[i], str(reason[i]), _raw([raw[c][i] for c in COLUMN_NAMES]))
        for i in bad
    ]
    utc = times.to_numpy(dtype="datetime64[us]")
    line_list = lines.tolist()
    if bad:
        good = np.ones(n, dtype=bool)
        good[bad] = False
        keep = np.flatnonzero(good).tolist()

        def pick(values: list) -> list:
            return [values[i] for i in keep]

        utc = utc[good]
    else:
        pick = list
    utc_text = np.datetime_as_string(utc, unit="us").tolist()
    rows = _normalise(kind, pick(line_list), {c: pick(value[c]) for c in COLUMN_NAMES},
                      [t + "Z" for t in utc_text])
    return LoadedChunk(rows, rejected)


def _raw(values: list[str]) -> str:
    return json.dumps(dict(zip(COLUMN_NAMES, values, strict=True)), ensure_ascii=True)[:_RAW_MAX]


def _normalise(kind: FeedbackKind, lines: list[int], value: dict[str, list[str]], times: list[str]) -> dict[str, list]:
    recipient, category, list_id, mailing = (value[c] for c in ("recipient_id", "category", "list_id", "mailing_id"))
    email = [v.lower() for v in value["email"]]
    marks = CATEGORIES[kind]
    return {
        "line_no": lines,
        "event_key": event_keys(kind.value, recipient, email, category, times, list_id, mailing),
        "recipient_id": [v or None for v in recipient],
        "email_normalized": [v or None for v in email],
        "category": category,
        "marks_bounced": [int(marks[c]) for c in category],
        "occurred_at": times,
        "list_id": [v or None for v in list_id],
        "mailing_id": [v or None for v in mailing],
    }
