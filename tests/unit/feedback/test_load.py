"""Reading landing files: the structure check refuses broken files whole; row checks reject rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from include.crm_sync.feedback.csv_schema import COLUMN_NAMES
from include.crm_sync.feedback.errors import FeedbackFileError
from include.crm_sync.feedback.event_key import event_keys
from include.crm_sync.feedback.load import NORMALISED_COLUMNS, check_structure, read_chunks
from include.crm_sync.imports.event_dates import EventDateRules
from include.crm_sync.platforms.base import FeedbackKind

HEADER = ",".join(COLUMN_NAMES)
GOOD = "C000001,a@example.com,hardbounce,2026-01-05T10:00:00.000000Z,1001,7001"


def write(tmp_path: Path, text: str | bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def load(path: Path, kind: FeedbackKind = FeedbackKind.BOUNCES, chunk_rows: int = 50_000):
    structure = check_structure(path)
    chunks = list(read_chunks(path, kind, structure, chunk_rows=chunk_rows))
    rows: dict[str, list] = {}
    for chunk in chunks:
        for key, values in chunk.rows.items():
            rows.setdefault(key, []).extend(values)
    rejected = [r for chunk in chunks for r in chunk.rejected]
    return structure, rows, rejected


# ------------------------------------------------------------------ whole file refused


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"", "the file is empty"),
        ("recipient_id,email,category,occurred_at,list_id\n", "missing column(s) mailing_id"),
        (HEADER + ",extra\n", "unexpected column(s) 'extra'"),
        (HEADER + ",email\n", "repeated column(s) email"),
        ("\ufeff" + HEADER + "\n", "byte-order mark"),
        ("Recipient_Id" + HEADER[len("recipient_id") :] + "\n", "missing column(s) recipient_id"),
    ],
)
def test_wrong_header_refuses_the_file_naming_file_and_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(FeedbackFileError) as err:
        check_structure(path)
    assert expected in str(err.value)
    assert "f.csv" in str(err.value)
    if text:
        assert "line 1" in str(err.value)


def test_header_columns_may_come_in_any_order(tmp_path):
    order = list(reversed(COLUMN_NAMES))
    values = dict(zip(COLUMN_NAMES, GOOD.split(","), strict=True))
    path = write(tmp_path, ",".join(order) + "\n" + ",".join(values[c] for c in order) + "\n")
    _, rows, rejected = load(path)
    assert rejected == [] and rows["recipient_id"] == ["C000001"] and rows["mailing_id"] == ["7001"]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([GOOD, GOOD + ",surplus"], "line 3 has 7 fields, expected 6"),
        ([GOOD, GOOD, "C1,a@example.com,hardbounce"], "line 4 has 3 fields, expected 6"),
        ([GOOD, "", GOOD], "line 3 is empty"),
    ],
)
def test_a_record_with_missing_or_extra_fields_refuses_the_file(tmp_path, lines, expected):
    path = write(tmp_path, HEADER + "\n" + "\n".join(lines) + "\n")
    with pytest.raises(FeedbackFileError, match=expected):
        check_structure(path)


def test_invalid_utf8_refuses_the_file_naming_the_line(tmp_path):
    latin1 = "C2,jos\u00e9@example.com,hardbounce,2026-01-05T10:00:00Z,1001,7001".encode("latin-1")
    path = write(tmp_path, (HEADER + "\n" + GOOD + "\n").encode() + latin1 + b"\n")
    with pytest.raises(FeedbackFileError, match=r"f\.csv: line 3 is not valid UTF-8"):
        check_structure(path)


def test_utf16_file_is_refused(tmp_path):
    path = write(tmp_path, (HEADER + "\n" + GOOD + "\n").encode("utf-16"))
    with pytest.raises(FeedbackFileError, match="not valid UTF-8"):
        check_structure(path)


def test_malformed_quoting_refuses_the_file(tmp_path):
    path = write(tmp_path, HEADER + "\n" + 'C1,"a@example.com"x,hardbounce,2026-01-05T10:00:00Z,1001,7001\n')
    with pytest.raises(FeedbackFileError, match="line 2: malformed CSV"):
        check_structure(path)


def test_header_only_file_has_no_rows(tmp_path):
    structure, rows, rejected = load(write(tmp_path, HEADER + "\n"))
    assert structure.records == 0 and rejected == [] and rows.get("line_no", []) == []


# ------------------------------------------------------------------ rows rejected, with line and field


def test_a_row_is_rejected_only_when_no_field_identifies_its_person_or_its_category_is_unknown(tmp_path):
    """Issue 12 point 0: a bounce is applied whenever its recipient id or its address identifies the
    person; a value failing a check is not used (or stored as NULL), never a reason to drop the bounce."""
    rejected_lines = {
        6: ("C5,e@example.com,bounced,2026-01-05T10:00:00Z,1001,7001", "category", "unknown category"),
        7: (",,hardbounce,2026-01-05T10:00:00Z,1001,7001", "recipient_id", "neither a usable recipient id"),
        15: ("C14,l@example.com,unsubscribe,2026-01-05T10:00:00Z,1001,7001", "category", "unknown category"),
        16: (
            "C" + "9" * 64 + ",m@exa\x07mple.com,hardbounce,2026-01-05T10:00:00Z,1001,7001",
            "recipient_id",
            "neither a usable recipient id",
        ),
    }
    #: line -> (text, recipient_id staged, email staged, list_id staged, mailing_id staged)
    applied_lines = {
        8: (
            "=1+1,f@example.com,hardbounce,2026-01-05T10:00:00Z,1001,7001",
            "=1+1",
            "f@example.com",
            "1001",
            "7001",
        ),
        9: (
            "C8,-dash@example.com,hardbounce,2026-01-05T10:00:00Z,1001,7001",
            "C8",
            "-dash@example.com",
            "1001",
            "7001",
        ),
        10: (
            "C9,+plus@example.com,hardbounce,2026-01-05T10:00:00Z,+1001,7001",
            "C9",
            "+plus@example.com",
            "+1001",
            "7001",
        ),
        11: (
            "C10,=eq@example.com,hardbounce,2026-01-05T10:00:00Z,1001,-7001",
            "C10",
            "=eq@example.com",
            "1001",
            "-7001",
        ),
        12: ("C11,i@exa\x07mple.com,hardbounce,2026-01-05T10:00:00Z,1001,7001", "C11", None, "1001", "7001"),
        13: (
            "C12\u202e,j@example.com,hardbounce,2026-01-05T10:00:00Z,1001,7001",
            None,
            "j@example.com",
            "1001",
            "7001",
        ),
        14: (
            "C" + "9" * 64 + ",k@example.com,hardbounce,2026-01-05T10:00:00Z,1001,7001",
            None,
            "k@example.com",
            "1001",
            "7001",
        ),
        17: (
            "C15,n@example.com,hardbounce,2026-01-05T10:00:00Z," + "1" * 65 + ",7\x07",
            "C15",
            "n@example.com",
            None,
            None,
        ),
    }
    body = {**{n: v[0] for n, v in rejected_lines.items()}, **{n: v[0] for n, v in applied_lines.items()}}
    body.update(
        {3: GOOD.replace("C000001", "C2"), 4: GOOD.replace("C000001", "C3"), 5: GOOD.replace("C000001", "C4")}
    )
    lines = [HEADER, GOOD] + [body[n] for n in range(3, 18)] + [GOOD.replace("C000001", "C000099")]
    path = write(tmp_path, "\n".join(lines) + "\n")
    structure = check_structure(path)
    (chunk,) = read_chunks(path, FeedbackKind.BOUNCES, structure)
    assert [r.line_no for r in chunk.rejected] == sorted(rejected_lines)
    for r in chunk.rejected:
        _, field, reason = rejected_lines[r.line_no]
        assert r.field == field and reason in r.reason, (r.line_no, r)
    # every rejected row is a hold candidate naming the ids and addresses it carries
    assert [(h.line_no, h.ids, h.addresses) for h in chunk.holds] == [
        (6, ("C5",), ("e@example.com",)),
        (7, ("",), ("",)),
        (15, ("C14",), ("l@example.com",)),
        (16, ("C" + "9" * 64,), ("m@exa\x07mple.com",)),
    ]
    rows = chunk.rows
    at = {line: i for i, line in enumerate(rows["line_no"])}
    assert set(at) == {2, 3, 4, 5, *applied_lines, len(lines)}
    for line, (_, recipient, email, list_id, mailing) in applied_lines.items():
        i = at[line]
        assert (
            rows["recipient_id"][i],
            rows["email_normalized"][i],
            rows["list_id"][i],
            rows["mailing_id"][i],
        ) == (recipient, email, list_id, mailing), line
    assert chunk.neutralised == {
        "email: control or other non-printable character in value (CSV/XML injection guard)": 2,
        "recipient_id: control or other non-printable character in value (CSV/XML injection guard)": 1,
        "recipient_id: longer than 64 characters": 2,
        "list_id: longer than 64 characters": 1,
        "mailing_id: control or other non-printable character in value (CSV/XML injection guard)": 1,
    }
    # distinct events keep distinct keys although their unusable values are not staged
    assert len(set(rows["event_key"])) == len(rows["event_key"])


def test_control_characters_survive_into_raw_only_escaped(tmp_path):
    record = '"C\n1","a\nb@example.com",hardbounce,2026-01-05T10:00:00Z,1001,7001\n'
    path = write(tmp_path, HEADER + "\n" + record + GOOD + "\n")
    structure, rows, rejected = load(path)
    assert structure.records == 2
    assert [(r.line_no, r.field) for r in rejected] == [(2, "recipient_id")]
    assert "\n" not in rejected[0].raw and "\\n" in rejected[0].raw
    assert rows["line_no"] == [5]  # the next record starts on line 5: line numbers are physical lines


def test_a_bounce_with_an_impossible_date_is_applied_with_its_time_of_receipt(tmp_path):
    """Issue 12 point 8: 2099, 1970 and a malformed date are not trusted, the bounce still counts."""
    now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    lines = [
        "C1,a@example.com,hardbounce,2099-01-01T00:00:00Z,1001,7001",
        "C2,b@example.com,hardbounce,1970-01-01T00:00:00Z,1001,7001",
        "C3,c@example.com,hardbounce,2026-12-07T10:29:00Z,1001,7001",  # within the clock skew of an hour
        "C4,d@example.com,hardbounce,2026-12-07T10:31:00Z,1001,7001",  # beyond it
        "C5,e@example.com,hardbounce,yesterday,1001,7001",
    ]
    path = write(tmp_path, HEADER + "\n" + "\n".join(lines) + "\n")
    (chunk,) = read_chunks(path, FeedbackKind.BOUNCES, check_structure(path), now=now)
    assert chunk.rejected == []
    received = "2026-12-07T09:30:00.000000Z"
    in_skew = "2026-12-07T10:29:00.000000Z"
    assert chunk.rows["occurred_at"] == [received, received, in_skew, received, received]
    assert sum(chunk.untrusted_dates.values()) == 4
    assert {k.split(" (")[0].split(",")[0] for k in chunk.untrusted_dates} == {
        "event time in the future",
        "event time before 2000-01-01",
        "malformed timestamp",
    }
    # the identity stays the platform's: the same file read an hour later gives the same keys
    (later,) = read_chunks(path, FeedbackKind.BOUNCES, check_structure(path), now=now + timedelta(hours=1))
    assert later.rows["event_key"] == chunk.rows["event_key"]


def test_date_rules_are_configurable(tmp_path):
    now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    path = write(
        tmp_path,
        HEADER + "\nC1,a@example.com,hardbounce,2026-12-07T09:40:00Z,1001,7001\n"
        "C2,b@example.com,hardbounce,2024-01-01T00:00:00Z,1001,7001\n",
    )
    rules = EventDateRules(max_skew=timedelta(minutes=5), earliest=datetime(2025, 1, 1, tzinfo=UTC))
    (chunk,) = read_chunks(path, FeedbackKind.BOUNCES, check_structure(path), now=now, dates=rules)
    assert chunk.rows["occurred_at"] == ["2026-12-07T09:30:00.000000Z"] * 2
    (default,) = read_chunks(path, FeedbackKind.BOUNCES, check_structure(path), now=now)
    assert default.untrusted_dates == {}


def test_unsubscribe_categories(tmp_path):
    path = write(
        tmp_path, HEADER + "\nC1,,unsubscribe,2026-01-05T10:00:00Z,,\nC2,,hardbounce,2026-01-05T10:00:00Z,,\n"
    )
    _, rows, rejected = load(path, FeedbackKind.UNSUBSCRIBES)
    assert rows["recipient_id"] == ["C1"] and rows["marks_bounced"] == [0]
    assert [(r.line_no, r.field) for r in rejected] == [(3, "category")]


# ------------------------------------------------------------------ normalisation


def test_values_are_normalised_and_times_made_canonical_utc(tmp_path):
    lines = [
        " C1 , Jane.Doe@Example.COM ,hardbounce,2026-01-05T11:00:00+01:00,1001,",
        "C1,jane.doe@example.com,hardbounce,2026-01-05T10:00:00.000Z,1001,",
        ",x@example.com,overflow,2026-01-05T10:00:00.5Z,,",
        "C3,,softbounce,2026-01-05T10:00:00.123456Z,,7001",
    ]
    _, rows, rejected = load(write(tmp_path, HEADER + "\n" + "\n".join(lines) + "\n"))
    assert rejected == []
    assert tuple(rows) == NORMALISED_COLUMNS
    assert rows["recipient_id"] == ["C1", "C1", None, "C3"]
    assert rows["email_normalized"] == ["jane.doe@example.com", "jane.doe@example.com", "x@example.com", None]
    assert rows["occurred_at"] == [
        "2026-01-05T10:00:00.000000Z",
        "2026-01-05T10:00:00.000000Z",
        "2026-01-05T10:00:00.500000Z",
        "2026-01-05T10:00:00.123456Z",
    ]
    assert rows["marks_bounced"] == [1, 1, 1, 0]
    assert rows["list_id"] == ["1001", "1001", None, None]
    assert rows["mailing_id"] == [None, None, None, "7001"]
    # the same event written two ways has one key
    assert rows["event_key"][0] == rows["event_key"][1] != rows["event_key"][2]


def test_event_key_depends_on_every_field():
    base = ["C1", "a@example.com", "hardbounce", "2026-01-05T10:00:00.000000Z", "1001", "7001"]
    keys = {event_keys("bounces", *([v] for v in base))[0]}
    for i in range(len(base)):
        changed = list(base)
        changed[i] = changed[i] + "x"
        keys.add(event_keys("bounces", *([v] for v in changed))[0])
    keys.add(event_keys("unsubscribes", *([v] for v in base))[0])
    assert len(keys) == len(base) + 2
    # no ambiguity from moving characters between fields
    assert event_keys("bounces", ["C1"], ["x"], ["c"], ["t"], [""], [""]) != event_keys(
        "bounces", ["C1x"], [""], ["c"], ["t"], [""], [""]
    )


@pytest.mark.parametrize("chunk_rows", [1, 3, 1000])
def test_chunking_does_not_change_the_result(tmp_path, chunk_rows):
    lines = [
        f"C{i},p{i}@example.com,{'hardbounce' if i % 3 else 'bogus'},2026-01-05T10:00:{i % 60:02d}Z,1001,7001"
        for i in range(20)
    ]
    lines[7] = 'C7,"p7@exa\nmple.com",hardbounce,2026-01-05T10:00:00Z,1001,7001'  # a two-line record
    path = write(tmp_path, HEADER + "\n" + "\n".join(lines) + "\n")
    reference = load(path, chunk_rows=10_000)
    structure, rows, rejected = load(path, chunk_rows=chunk_rows)
    assert (structure.records, rows, rejected) == (20, reference[1], reference[2])
    # record 7 spans lines 9-10, so every later record starts one line further down
    # record 7's address is unusable, its id is not: applied
    assert [r.line_no for r in rejected] == [2, 5, 8, 12, 15, 18, 21]
