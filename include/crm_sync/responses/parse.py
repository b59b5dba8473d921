"""Stream-parse a landed response file: whole-file checks first, then validated chunks of rows.

1. ``check_structure``: from the ``FileFacts`` of the download (no second read of the bytes) and
   the header line: an empty file, bytes that are not UTF-8, a file that does not end with a line
   feed (truncated: cut off mid-line, or still being written) and a wrong header each refuse the
   whole file with ``ResponseFileError`` naming the file and line. Nothing is applied then.
2. ``read_chunks``: one pass, strict UTF-8, flat memory, records as RFC 4180 defines them. The
   CSV tokenizer (the ``csv`` module, in C) is fed the file's lines; a quoted value that holds a
   line break makes ONE record of those lines, rejected whole (response values never hold line
   breaks): its continuation is never read as a row of its own (a forged ``\nC000020,...,
   unsubscribe`` inside a ``link_url`` must not revoke anyone's consent). A quote that does not
   close (the file ends, broken CSV where it would close, or more than ``MAX_RECORD_LINES`` lines
   or ``MAX_RECORD_CHARS`` characters) was a stray quote: only its own line is rejected and the
   lines after it are read again, so it cannot swallow the rest of the file. A record with the
   wrong number of fields, broken quoting, or an invalid value is rejected with its (first) line
   number, the column and the reason (the first failing check); the rest is loaded. The bytes are
   hashed as they are parsed and must be the ones downloaded (``FileStructure.sha256``), else
   the file is refused at its end (the caller rolls back). Each chunk of ``chunk_rows`` records
   is validated column-wise (whole-chunk fast paths in C, per-value checks only where a chunk
   fails one), times are parsed by pandas (ISO 8601 with an explicit offset, never guessed), and
   valid rows are normalised and keyed.

Why not ``pandas.read_csv``: its C tokenizer fills missing trailing fields silently (a short line
is indistinguishable from one with an empty ``link_url``) and reports skipped lines only as
warnings, while malformed rows must be rejected with their line and the rest loaded; and the
csv module fed line by line is as fast here. pandas still does the vectorised time parsing.

A bounce or unsubscribe is held to the rule of every import (``_validate``): applied whenever an
id identifies its person, unsafe values neutralised; ``judge_dates`` (called by the apply with the
time of receipt) rejects opens and clicks whose date cannot be true and gives such a "no" the
time of receipt instead.

Event identity (``event_key``): sha256 over recipient id, mailing id, event type and the UTC event
time (µs): the same event in two files, or twice in one, is one event.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

from include.crm_sync.imports.csv_header import header_problems
from include.crm_sync.imports.event_dates import EventDateRules, utc_text
from include.crm_sync.imports.holds import HoldCandidate
from include.crm_sync.imports.row_checks import FORMULA, column_problems, fit_text
from include.crm_sync.iso_times import parse_offset_times
from include.crm_sync.responses.download import FileFacts
from include.crm_sync.responses.errors import ResponseFileError
from include.crm_sync.responses.file_format import (
    BOUNCE_EVENT_TYPES,
    COLUMN_NAMES,
    COLUMNS,
    ENCODING,
    ENTITY_TYPES,
    EVENT_TYPES,
    UNSUBSCRIBE,
)
from include.crm_sync.staging.tables import ID

DEFAULT_CHUNK_ROWS = 50_000
KEY_VERSION = "r1"
_RAW_MAX = 2000
_BOM = "\ufeff"
_FORMULA_TRIGGERS = ("=", "+", "-", "@")
_NON_PRINTABLE = "control or other non-printable character in value (CSV/XML injection guard)"
_FORMULA = "value starts with a formula trigger (= + - @; CSV injection guard)"
_UNCLOSED = "unbalanced quote: the quote opened on this line does not close ({}); only this line is rejected"
_READ_BUFFER = 1 << 20
#: Bounds of one record while a quoted value is open. A value of the platform holds no line break and
#: at most 2,000 characters, so a record beyond them comes from a stray quote: its first line is
#: rejected and the lines after it are read again as records, instead of the quote swallowing the
#: rest of the file (the bounds also cap the memory a record can take). A quoted value that closes
#: within them makes one record, rejected whole.
MAX_RECORD_LINES = 10_000
MAX_RECORD_CHARS = 256 * 1024
#: a person's "no" (and soft bounces): applied whenever an id identifies the person (issue 12 point 0)
NO_EVENT_TYPES = frozenset({*BOUNCE_EVENT_TYPES, UNSUBSCRIBE})
_NO_IDENTITY = "neither a usable recipient id nor a usable entity id"
_MALFORMED_TIME = "malformed timestamp (expected ISO 8601 with an offset, e.g. 2026-01-31T23:59:59Z)"

#: columns of the normalised chunks handed to the stage table
STAGE_COLUMNS = (
    "line_no",
    "event_key",
    "recipient_id",
    "entity_type",
    "entity_id",
    "crm_key",
    "list_id",
    "mailing_id",
    "wave_id",
    "event_type",
    "occurred_at",
    "link_url",
)


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line_no: int
    field: str | None
    reason: str
    raw: str | None


@dataclass(slots=True)
class ParsedChunk:
    #: valid rows, column-wise (``STAGE_COLUMNS``; ``None`` for empty values, ``occurred_at`` as
    #: canonical UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ``)
    rows: dict[str, list]
    rejected: list[RejectedLine]
    #: records this chunk covers (valid + rejected; a record spanning several lines counts once)
    lines: int
    #: rejected lines that may be a "no", as the ids they name (the fail-safe holds those the CRM knows)
    holds: list[HoldCandidate] = field(default_factory=list)
    #: bounces/unsubscribes kept with the time of receipt because their date cannot be true, by reason
    untrusted_dates: Counter[str] = field(default_factory=Counter)
    #: values of bounces/unsubscribes not used (ids) or stored as NULL, by column and reason
    neutralised: Counter[str] = field(default_factory=Counter)
    #: kept bounces/unsubscribes with an unusable id: hold candidates should the line match nobody
    holds_unless_found: list[HoldCandidate] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows["line_no"])


@dataclass(frozen=True, slots=True)
class FileStructure:
    #: position of each of ``COLUMN_NAMES`` in the file's header
    positions: tuple[int, ...]
    width: int
    #: sha256 of the bytes checked (the download's): ``read_chunks`` refuses other bytes
    sha256: str | None = None


def check_structure(path: Path, facts: FileFacts) -> FileStructure:
    """Refuse the file (``ResponseFileError``) unless it is complete UTF-8 with the right header."""
    name = path.name
    if facts.size == 0:
        raise ResponseFileError(name, "the file is empty (no header line); the file is refused", 1)
    if facts.bad_utf8_line is not None:
        raise ResponseFileError(
            name,
            f"line {facts.bad_utf8_line} is not valid UTF-8 ({facts.bad_utf8_reason}); the file is refused, "
            "nothing was applied",
            facts.bad_utf8_line,
        )
    if not facts.ends_with_newline:
        raise ResponseFileError(
            name,
            "the file is truncated (its last line does not end with a line feed: cut off, or still being "
            "written); the file is refused, nothing was applied, and it is tried again on the next run",
        )
    with open(path, encoding=ENCODING, errors="strict", newline="\n") as f:
        header_line = f.readline()
    try:
        header = next(csv.reader([header_line], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise ResponseFileError(name, f"line 1: unreadable header ({exc}); the file is refused", 1) from None
    return FileStructure(_check_header(name, header), len(header), facts.sha256)


def _check_header(name: str, header: list[str]) -> tuple[int, ...]:
    problems = header_problems(header, COLUMN_NAMES, "the platform writes UTF-8 without BOM")
    if problems:
        raise ResponseFileError(
            name,
            f"line 1: wrong header: {'; '.join(problems)}; expected {', '.join(COLUMN_NAMES)}. "
            "The file is refused; nothing was applied",
            1,
        )
    return tuple(header.index(c) for c in COLUMN_NAMES)


class _RecordTooLong(Exception):
    """A quoted value is still open after ``MAX_RECORD_LINES`` lines or ``MAX_RECORD_CHARS`` characters."""


class _RecordLines:
    """Feeds the csv reader the lines of one record at a time and remembers where the record lies.

    ``armed`` is set before each record: the first line the reader then asks for starts a record;
    any further line it asks for continues a quoted value (``more`` holds those lines, so that they
    can be given back and read again as records of their own). Lines given back are served before
    the file's next line; memory is bounded by ``MAX_RECORD_CHARS``.
    """

    __slots__ = ("_lines", "_next_no", "_pending", "armed", "chars", "ended", "first_no", "line", "more")

    def __init__(self, lines: Iterator[str], first_line_no: int) -> None:
        self._lines = lines
        self._next_no = first_line_no
        self._pending: deque[tuple[int, str]] = deque()
        self.armed = False
        self.first_no = first_line_no - 1
        self.line = ""
        #: continuation lines of the current record (None: it has only its first line so far)
        self.more: list[tuple[int, str]] | None = None
        self.chars = 0
        #: the file ended inside the current record's quoted value
        self.ended = False

    def __iter__(self) -> _RecordLines:
        return self

    def _take(self) -> tuple[int, str]:
        if self._pending:
            return self._pending.popleft()
        line = next(self._lines)  # StopIteration: the end of the file ends the reader
        self._next_no += 1
        return self._next_no - 1, line

    def __next__(self) -> str:
        if self.armed:
            self.armed = False
            self.first_no, self.line = self._take()
            self.more = None
            self.chars = len(self.line)
            return self.line
        # the tokenizer is inside a quoted value at the end of a line: the record goes on
        more = self.more if self.more is not None else []
        self.more = more
        if len(more) + 1 >= MAX_RECORD_LINES or self.chars >= MAX_RECORD_CHARS:
            raise _RecordTooLong
        try:
            taken = self._take()
        except StopIteration:
            self.ended = True
            raise
        more.append(taken)
        self.chars += len(taken[1])
        return taken[1]

    @property
    def last_no(self) -> int:
        return self.more[-1][0] if self.more else self.first_no

    def text(self) -> str:
        return self.line + "".join(line for _no, line in self.more or ())

    def give_back(self) -> None:
        """The current record is its first line only: its continuation lines are read again as records."""
        if self.more:
            self._pending.extendleft(reversed(self.more))
        self.more = None
        self.ended = False


class _HashingReader(io.RawIOBase):
    """The bytes of a file as they are read, hashed on the way: what is parsed is what was hashed."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        n = self._raw.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
        return n or 0


def read_chunks(
    path: Path, structure: FileStructure, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[ParsedChunk]:
    """Validated, normalised chunks of ``path`` (call ``check_structure`` first).

    Raises ``ResponseFileError`` at the end if the bytes read are not the ones ``check_structure``
    was given the sha256 of (the landed file changed since it was downloaded): the caller rolls back.
    """
    name = path.name
    width = structure.width
    records: list[list[str]] = []
    lines: list[int] = []
    rejected: list[RejectedLine] = []
    consumed = 0
    with open(path, "rb") as raw:
        hashing = _HashingReader(raw)
        f = io.TextIOWrapper(
            io.BufferedReader(hashing, _READ_BUFFER), encoding=ENCODING, errors="strict", newline="\n"
        )
        f.readline()  # the header, checked already
        source = _RecordLines(iter(f), 2)
        reader = csv.reader(source, strict=True)
        paused = _gc_paused()
        paused.__enter__()
        while True:
            source.armed = True
            try:
                record = next(reader)
            except StopIteration:
                break
            except _RecordTooLong:
                rejected.append(
                    RejectedLine(
                        source.first_no,
                        None,
                        _UNCLOSED.format(
                            f"no closing quote within {MAX_RECORD_LINES} lines "
                            f"or {MAX_RECORD_CHARS} characters"
                        ),
                        _clip(source.line),
                    )
                )
                source.give_back()
                reader = csv.reader(source, strict=True)  # the old one is stuck inside the quote
            except csv.Error as exc:
                if source.more is None:
                    why = f"malformed CSV ({exc})"
                else:
                    # The quote opened on this line never closes (the file ends), or a later quote
                    # "closes" it into broken CSV: no writer made that record, so the quote was stray.
                    ending = f"broken CSV where it would close ({exc})"
                    why = _UNCLOSED.format("the file ends inside it" if source.ended else ending)
                    source.give_back()
                rejected.append(RejectedLine(source.first_no, None, why, _clip(source.line)))
                reader = csv.reader(source, strict=True)
            else:
                if source.more is not None:
                    # A well-formed record over several lines: a quoted value holds a line break.
                    # Response values never do; the record is rejected whole, never split into rows.
                    rejected.append(
                        RejectedLine(
                            source.first_no,
                            None,
                            (
                                "a quoted value holds a line break "
                                f"(the record spans lines {source.first_no}-{source.last_no}); "
                                "response values never contain line breaks: the record is rejected whole"
                            ),
                            _clip(source.text()),
                        )
                    )
                elif len(record) == width:
                    records.append(record)
                    lines.append(source.first_no)
                else:
                    what = "is empty" if not record else f"has {len(record)} fields, expected {width}"
                    rejected.append(
                        RejectedLine(source.first_no, None, f"the line {what}", _clip(source.text()))
                    )
            consumed += 1
            if consumed >= chunk_rows:
                chunk = _validate(name, structure, records, lines, rejected, consumed)
                records, lines, rejected, consumed = [], [], [], 0
                paused.__exit__(None, None, None)  # never paused while the caller works
                yield chunk
                paused = _gc_paused()
                paused.__enter__()
        paused.__exit__(None, None, None)
        f.detach()
    if structure.sha256 is not None and hashing.sha256.hexdigest() != structure.sha256:
        raise ResponseFileError(
            name,
            f"the landed file changed since it was downloaded (sha256 {hashing.sha256.hexdigest()[:12]}, "
            f"downloaded {structure.sha256[:12]}); nothing of it is applied, a retry downloads it again",
        )
    if consumed:
        yield _validate(name, structure, records, lines, rejected, consumed)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a chunk is built: its hundreds of thousands of row
    lists hold only strings (no cycles), but each of them would count towards (and be scanned by)
    collections that find nothing; measured: tokenising and transposing a chunk ~3x faster."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _clip(line: str) -> str:
    return line.rstrip("\r\n")[:_RAW_MAX]


def _validate(
    name: str,
    structure: FileStructure,
    records: list[list[str]],
    lines: list[int],
    rejected: list[RejectedLine],
    consumed: int,
) -> ParsedChunk:
    """Validate one chunk column-wise; a "no" (bounce, unsubscribe) is only rejected when no field
    identifies its person.

    Opens, clicks and autoresponders are rejected at their first failing check (per column: a
    non-printable character, a leading formula trigger, the length limit, a missing required value;
    then the event type, the entity type, the timestamp). A bounce or unsubscribe is held to the
    rule of every import instead: a recipient id or entity id failing a check is not used to find
    the person (the other may still do; the formula guard does not apply to them), any other value
    failing one is stored as NULL, and a malformed time is left for ``judge_dates`` to replace by
    the time of receipt. Rejected rows that may be a "no" (an unreadable line, an unknown event
    type, a "no" without a usable id) become hold candidates.
    """
    n = len(records)
    holds = [_structural_hold(r) for r in rejected]
    if n == 0:
        return ParsedChunk({c: [] for c in STAGE_COLUMNS}, rejected, consumed, [h for h in holds if h])
    by_position = list(zip(*records, strict=True))
    raw = {c: by_position[p] for c, p in zip(COLUMN_NAMES, structure.positions, strict=True)}
    value = {c: list(map(str.strip, raw[c])) for c in COLUMN_NAMES}
    event_types = value["event_type"]
    is_no = [v in NO_EVENT_TYPES for v in event_types]
    any_no = any(is_no)
    reason: list[str | None] = [None] * n
    failed: list[str | None] = [None] * n
    unusable: dict[str, set[int]] = {"recipient_id": set(), "entity_id": set()}
    neutralised: Counter[str] = Counter()
    stored: dict[str, list[str]] = {}  # copies of the columns with neutralised values only

    def store(column: str) -> list[str]:
        return stored.setdefault(column, list(value[column]))

    def mark(column: str, why: str, hits: Iterable[int]) -> None:
        for i in hits:
            if reason[i] is None:
                reason[i], failed[i] = why, column

    for spec in COLUMNS:
        column, values = spec.name, value[spec.name]
        problems = column_problems(raw[column], values, spec.max_length, formula_guard=True)
        if spec.required and not all(values):
            for i, v in enumerate(values):
                if not v and i not in problems:
                    problems[i] = f"{column} is missing"
        if not problems:
            continue
        for i, why in problems.items():
            if not is_no[i]:
                mark(column, why, (i,))
            elif why == FORMULA or column in ("event_type", "occurred_at"):
                continue  # a formula-like value is stored as it is; type and time are judged below
            elif column in unusable:
                if why != f"{column} is missing":
                    neutralised[f"{column}: {why}"] += 1
                unusable[column].add(i)
            elif why != f"{column} is missing":
                neutralised[f"{column}: {why}"] += 1
                store(column)[i] = ""

    if not set(event_types) <= EVENT_TYPES:
        mark(
            "event_type",
            f"unknown event type (expected {' | '.join(sorted(EVENT_TYPES))})",
            (i for i, v in enumerate(event_types) if v not in EVENT_TYPES),
        )
    entity_types = [v.lower() for v in stored.get("entity_type", value["entity_type"])]
    if not set(entity_types) <= ENTITY_TYPES | {""}:
        for i, v in enumerate(entity_types):
            if v not in ENTITY_TYPES and v != "":
                if is_no[i]:
                    neutralised["entity_type: unknown entity type"] += 1
                    entity_types[i] = ""
                else:
                    mark(
                        "entity_type",
                        f"unknown entity type (expected {' | '.join(sorted(ENTITY_TYPES))} or empty)",
                        (i,),
                    )
    if any_no:
        mark(
            "recipient_id",
            _NO_IDENTITY,
            (
                i
                for i in range(n)
                if is_no[i]
                and (not value["recipient_id"][i] or i in unusable["recipient_id"])
                and (not value["entity_id"][i] or i in unusable["entity_id"])
            ),
        )

    # the platform's own form, 2026-01-31T23:59:59Z, is 20 characters long
    times, bad_times = parse_offset_times(value["occurred_at"], 20)
    if bad_times.any():
        mark("occurred_at", _MALFORMED_TIME, (i for i in np.flatnonzero(bad_times).tolist() if not is_no[i]))
    utc = times.to_numpy(dtype="datetime64[us]")
    occurred: list[str | None] = [t + "Z" for t in np.datetime_as_string(utc, unit="us").tolist()]
    key_times = list(occurred)
    untrusted: Counter[str] = Counter()
    for i in np.flatnonzero(bad_times).tolist():
        if is_no[i]:  # the identity keeps the text the platform sent; the time is the time of receipt
            key_times[i], occurred[i] = value["occurred_at"][i], None
            if reason[i] is None:
                untrusted[_MALFORMED_TIME] += 1

    bad = [i for i in range(n) if reason[i] is not None]
    if bad:
        rejected = rejected + [
            RejectedLine(lines[i], failed[i], str(reason[i]), _raw_json([raw[c][i] for c in COLUMN_NAMES]))
            for i in bad
        ]
        holds += [
            HoldCandidate(lines[i], str(reason[i]), (value["recipient_id"][i], value["entity_id"][i]))
            for i in bad
            if is_no[i] or event_types[i] not in EVENT_TYPES
        ]
        good = [i for i in range(n) if reason[i] is None]
        pick = lambda values: [values[i] for i in good]  # noqa: E731
    else:
        pick = list
    # a kept "no" found by one id while the other was unusable: if it finds nobody, the unusable id
    # may still name a CRM person (the apply holds them then)
    partly = sorted((unusable["recipient_id"] | unusable["entity_id"]) - set(bad))
    unless_found = [
        HoldCandidate(
            lines[i],
            "unknown recipient; an id of the line was not usable",
            (value["recipient_id"][i], value["entity_id"][i]),
        )
        for i in partly
    ]
    flags = {c: pick([i in hits for i in range(n)]) if hits else None for c, hits in unusable.items()}
    kept = {c: pick(value[c]) for c in COLUMN_NAMES}
    as_stored = {c: pick(stored[c]) if c in stored else kept[c] for c in COLUMN_NAMES}
    rows = _normalise(
        pick(lines), kept, as_stored, pick(entity_types), pick(occurred), pick(key_times), flags
    )
    rejected.sort(key=lambda r: r.line_no)
    return ParsedChunk(
        rows, rejected, consumed, [h for h in holds if h], untrusted, neutralised, unless_found
    )


def _structural_hold(line: RejectedLine) -> HoldCandidate | None:
    """An unreadable line may be somebody's "no": every field of it is a candidate id, unless one of its
    fields says it is an open, a click or an autoresponder (never a "no")."""
    if line.field is not None or not line.raw:
        return None
    # best effort on a line the CSV reader refused: its quotes removed, split at every comma
    fields = [f.strip() for f in line.raw.replace('"', "").split(",")]
    if set(fields) & (EVENT_TYPES - NO_EVENT_TYPES):
        return None
    return HoldCandidate(line.line_no, line.reason, tuple(f for f in fields if f))


def judge_dates(chunk: ParsedChunk, now: datetime, dates: EventDateRules | None = None) -> ParsedChunk:
    """Point 8 on a parsed chunk: an event time in the future (beyond the clock skew) or before the
    platform can have sent it is not trusted. An open, click or autoresponder is rejected with the
    reason; a bounce or unsubscribe keeps its effect with the time of receipt (so does one whose
    time was malformed), and the untrusted date is counted."""
    dates = dates or EventDateRules()
    rows = chunk.rows
    occurred = rows["occurred_at"]
    if not occurred:
        return chunk
    texts = [t[:-1] if t else "NaT" for t in occurred]
    distrust = dates.untrusted(np.array(texts, dtype="datetime64[us]"), now)
    missing = [t is None for t in occurred]
    if not (any(distrust) or any(missing)):
        return chunk
    received = utc_text(now)
    drop: list[int] = []
    untrusted = Counter(chunk.untrusted_dates)
    for i, why in enumerate(distrust):
        if missing[i]:
            occurred[i] = received
        elif why is None:
            continue
        elif rows["event_type"][i] in NO_EVENT_TYPES:
            occurred[i] = received
            untrusted[why] += 1
        else:
            drop.append(i)
    rejected = list(chunk.rejected)
    if drop:
        gone = set(drop)
        shown = ("recipient_id", "entity_id", "list_id", "mailing_id", "event_type", "occurred_at")
        rejected += [
            RejectedLine(
                rows["line_no"][i],
                "occurred_at",
                str(distrust[i]),
                json.dumps({c: rows[c][i] for c in shown}, ensure_ascii=False)[:_RAW_MAX],
            )
            for i in drop
        ]
        rejected.sort(key=lambda r: r.line_no)
        rows = {c: [v for i, v in enumerate(values) if i not in gone] for c, values in rows.items()}
    return ParsedChunk(
        rows, rejected, chunk.lines, chunk.holds, untrusted, chunk.neutralised, chunk.holds_unless_found
    )


def _raw_json(values: list[str]) -> str:
    return json.dumps(dict(zip(COLUMN_NAMES, values, strict=True)), ensure_ascii=False)[:_RAW_MAX]


def event_keys(
    recipients: Sequence[str], mailings: Sequence[str], types: Sequence[str], times: Sequence[str]
) -> list[str]:
    """``sha256(version, recipient id, mailing id, event type, UTC time)`` of many events at once."""
    sha = hashlib.sha256
    return [
        sha(f"{KEY_VERSION}\x1f{r}\x1f{m}\x1f{e}\x1f{t}".encode()).hexdigest()
        for r, m, e, t in zip(recipients, mailings, types, times, strict=True)
    ]


def _normalise(
    lines: list[int],
    value: dict[str, list[str]],
    stored: dict[str, list[str]],
    entity_types: list[str],
    occurred: list[str | None],
    key_times: list[str],
    unusable: dict[str, list[bool] | None],
) -> dict[str, list]:
    """Stage columns of the kept rows: ``value`` as read (the event's identity), ``stored`` with
    neutralised values emptied, ``unusable`` the ids not to find the person by (None: all usable)."""
    recipient, entity, mailing = value["recipient_id"], value["entity_id"], value["mailing_id"]
    bad_entity, bad_recipient = unusable["entity_id"], unusable["recipient_id"]
    usable_entity = (
        entity
        if bad_entity is None
        else ["" if bad else e for e, bad in zip(entity, bad_entity, strict=True)]
    )
    usable_recipient = (
        recipient
        if bad_recipient is None
        else ["" if bad else r for r, bad in zip(recipient, bad_recipient, strict=True)]
    )
    return {
        "line_no": lines,
        "event_key": event_keys(recipient, mailing, value["event_type"], key_times),
        # response_event.recipient_id must hold something: an unusable id is stored neutralised
        "recipient_id": recipient
        if bad_recipient is None
        else [fit_text(r, ID.length) if bad else r for r, bad in zip(recipient, bad_recipient, strict=True)],
        "entity_type": [v or None for v in entity_types],
        "entity_id": [v or None for v in usable_entity],
        # the id to find the CRM entity by: the platform's entity id where it has a usable one, else
        # the recipient id (which is the entity id the CRM uploaded)
        "crm_key": [e or r for e, r in zip(usable_entity, usable_recipient, strict=True)],
        "list_id": [v or None for v in stored["recipient_list_id"]],
        "mailing_id": [v or None for v in stored["mailing_id"]],
        "wave_id": [v or None for v in stored["wave_id"]],
        "event_type": value["event_type"],
        "occurred_at": occurred,
        "link_url": [v or None for v in stored["link_url"]],
    }
