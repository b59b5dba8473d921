"""Structure check and chunked parsing of response files (no database, no server)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.crm_sync.imports.event_dates import EventDateRules
from include.crm_sync.responses.download import scan_file
from include.crm_sync.responses.errors import ResponseFileError
from include.crm_sync.responses.file_format import COLUMN_NAMES
from include.crm_sync.responses.parse import check_structure, event_keys, judge_dates, read_chunks

HEADER = ",".join(COLUMN_NAMES) + "\n"


def row(
    recipient="C1",
    event_type="open",
    at="2026-03-01T10:00:00Z",
    mailing="7001",
    link="",
    entity_type="",
    entity_id="",
    list_id="1002",
    wave="",
):
    values = {
        "recipient_id": recipient,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "recipient_list_id": list_id,
        "mailing_id": mailing,
        "wave_id": wave,
        "event_type": event_type,
        "occurred_at": at,
        "link_url": link,
    }
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([values[c] for c in COLUMN_NAMES])
    return buffer.getvalue()


def write(tmp_path: Path, text: str | bytes, name: str = "responses_t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def parse(path: Path, chunk_rows: int = 50_000):
    chunks = list(read_chunks(path, check_structure(path, scan_file(path)), chunk_rows=chunk_rows))
    rows = {c: [v for chunk in chunks for v in chunk.rows[c]] for c in chunks[0].rows} if chunks else {}
    rejected = [r for chunk in chunks for r in chunk.rejected]
    return rows, rejected, sum(chunk.lines for chunk in chunks)


# ------------------------------------------------------------------ whole-file refusals


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is empty"),
        (HEADER.encode() + row().encode()[:-1], "the file is truncated"),
        (HEADER.encode()[:30], "the file is truncated"),
        (
            HEADER.replace("mailing_id", "mailing").encode() + row().encode(),
            "line 1: wrong header: missing column(s) mailing_id; unexpected column(s) 'mailing'",
        ),
        ((HEADER.rstrip("\n") + ",event_type\n").encode(), "repeated column(s) event_type"),
        (b"\xef\xbb\xbf" + HEADER.encode(), "starts with a byte-order mark"),
        (
            HEADER.encode() + row().encode() + row(recipient="Andr\xe9").encode("latin-1"),
            "line 3 is not valid UTF-8",
        ),
    ],
)
def test_files_refused_as_a_whole(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(ResponseFileError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        check_structure(path, scan_file(path))
    assert error.value.file_name == path.name


def test_columns_may_come_in_any_order(tmp_path):
    names = list(reversed(COLUMN_NAMES))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerow(
        ["https://x.example/", "2026-03-01T10:00:00Z", "click", "", "7001", "1002", "C9", "contact", "C9"]
    )
    rows, rejected, lines = parse(write(tmp_path, buffer.getvalue()))
    assert rejected == [] and lines == 1
    assert (rows["recipient_id"], rows["entity_id"], rows["event_type"], rows["link_url"]) == (
        ["C9"],
        ["C9"],
        ["click"],
        ["https://x.example/"],
    )


# ------------------------------------------------------------------ rows


def test_valid_rows_are_normalised(tmp_path):
    text = (
        HEADER
        + row(
            at="2026-03-01T12:00:00+02:00", entity_type="Lead", entity_id="L7", recipient="r7", wave="CMP-1"
        )
        + row(link='https://x.example/a,b?c="d"', event_type="click")
        + row(recipient=" C2 ", at="2026-03-01T10:00:00.250Z").replace("\n", "\r\n")
    )
    rows, rejected, lines = parse(write(tmp_path, text))
    assert rejected == [] and lines == 3
    assert rows["line_no"] == [2, 3, 4]
    assert rows["occurred_at"] == [
        "2026-03-01T10:00:00.000000Z",
        "2026-03-01T10:00:00.000000Z",
        "2026-03-01T10:00:00.250000Z",
    ]
    assert rows["entity_type"] == ["lead", None, None]
    assert rows["crm_key"] == [
        "L7",
        "C1",
        "C2",
    ]  # the platform's entity id where known, else the recipient id
    assert rows["wave_id"] == ["CMP-1", None, None]
    assert rows["link_url"] == [None, 'https://x.example/a,b?c="d"', None]


def test_event_key_is_recipient_mailing_type_and_utc_time():
    one = event_keys(["C1"], ["7001"], ["open"], ["2026-03-01T10:00:00.000000Z"])
    assert one == event_keys(["C1"], ["7001"], ["open"], ["2026-03-01T10:00:00.000000Z"])
    for other in (
        event_keys(["C2"], ["7001"], ["open"], ["2026-03-01T10:00:00.000000Z"]),
        event_keys(["C1"], ["7002"], ["open"], ["2026-03-01T10:00:00.000000Z"]),
        event_keys(["C1"], ["7001"], ["click"], ["2026-03-01T10:00:00.000000Z"]),
        event_keys(["C1"], ["7001"], ["open"], ["2026-03-01T10:00:01.000000Z"]),
    ):
        assert other != one
    assert len(one[0]) == 64


@pytest.mark.parametrize(
    "line, field, reason",
    [
        (row(event_type="bounce"), "event_type", "unknown event type"),
        (row(at="2026-03-01T10:00:00"), "occurred_at", "malformed timestamp"),
        (row(at="01.03.2026 10:00 +01:00"), "occurred_at", "malformed timestamp"),
        (row(at="2026-13-01T10:00:00Z"), "occurred_at", "malformed timestamp"),
        # same length and 'Z' as its neighbours (the whole-chunk fast path), but no 'T' separator
        (row(at="2026-03-01 10:00:00Z"), "occurred_at", "malformed timestamp"),
        (row(mailing=""), "mailing_id", "mailing_id is missing"),
        (row(recipient=""), "recipient_id", "recipient_id is missing"),
        (row(recipient="x" * 65), "recipient_id", "longer than 64 characters"),
        (row(link="https://x.example/" + "a" * 2000), "link_url", "longer than 2000 characters"),
        (row(recipient="+31612345678"), "recipient_id", "formula trigger"),
        (row(link="@SUM(A1)"), "link_url", "formula trigger"),
        (row(recipient="C1\u200b"), "recipient_id", "non-printable"),
        (row(link="https://x.example/\ta"), "link_url", "non-printable"),
        (row(entity_type="opportunity"), "entity_type", "unknown entity type"),
        ("C1,,,1002,7001,,open\n", None, "the line has 7 fields, expected 9"),
        ('C1,,,1002,7001,,open,2026-03-01T10:00:00Z,"x"y\n', None, "malformed CSV"),
        ("C1,,,1002,7001,,open,2026-03-01T10:00:00Z,\x00\n", "link_url", "non-printable"),
    ],
)
def test_a_malformed_row_is_rejected_with_line_field_and_reason(tmp_path, line, field, reason):
    rows, rejected, lines = parse(write(tmp_path, HEADER + row(recipient="C0") + line + row(recipient="C2")))
    assert lines == 3 and rows["line_no"] == [2, 4]
    assert [(r.line_no, r.field) for r in rejected] == [(3, field)]
    assert reason in rejected[0].reason and rejected[0].raw


def test_a_stray_quote_breaks_only_its_own_line(tmp_path):
    text = (
        HEADER
        + '"C1,,,1002,7001,,open,2026-03-01T10:00:00Z,\n'
        + "".join(row(recipient=f"C{i}") for i in range(5))
    )
    rows, rejected, lines = parse(write(tmp_path, text))
    assert [r.line_no for r in rejected] == [2] and "unbalanced quote" in rejected[0].reason
    assert rows["line_no"] == [3, 4, 5, 6, 7] and lines == 6


def test_a_header_only_file_has_no_rows(tmp_path):
    rows, rejected, lines = parse(write(tmp_path, HEADER))
    assert (rows, rejected, lines) == ({}, [], 0)


GOOD = st.builds(
    row,
    recipient=st.sampled_from(["C1", "C2", "L3"]),
    event_type=st.sampled_from(["open", "click", "hardbounce", "softbounce", "unsubscribe", "autoresponder"]),
)
BAD = st.sampled_from([row(event_type="nope"), "C1,,,1002\n", "\n", '"C1,x\n', row(at="yesterday")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(st.booleans(), GOOD, BAD), max_size=60), chunk_rows=st.integers(1, 7))
def test_every_line_is_loaded_or_rejected_exactly_once_whatever_the_chunking(tmp_path, lines, chunk_rows):
    text = HEADER + "".join(good if ok else bad for ok, good, bad in lines)
    rows, rejected, count = parse(write(tmp_path, text, f"p{chunk_rows}.csv"), chunk_rows=chunk_rows)
    expected_good = [n for n, (ok, _g, _b) in enumerate(lines, 2) if ok]
    expected_bad = [n for n, (ok, _g, _b) in enumerate(lines, 2) if not ok]
    assert count == len(lines)
    assert (rows.get("line_no", []), [r.line_no for r in rejected]) == (expected_good, expected_bad)


# ------------------------------------------------------------------ records, not lines (issue 12, point 4)


def test_a_quoted_line_break_never_makes_a_row_of_its_continuation(tmp_path):
    """RFC 4180: a quoted value may hold a line break. Read line by line, the continuation of this
    link_url looked like an unsubscribe of C000020 and revoked a consent nobody withdrew."""
    forged = (
        "https://x.example/a\nC000020,contact,C000020,1002,7001,,unsubscribe,2026-03-01T10:00:00Z,https://y"
    )
    forged_click = row(recipient="C2", event_type="click", link=forged)
    text = HEADER + row(recipient="C1") + forged_click + row(recipient="C3")
    assert text.count("\n") == 5  # the forged record is two physical lines (3 and 4)

    rows, rejected, records = parse(write(tmp_path, text))

    assert "C000020" not in rows["recipient_id"]
    assert rows["recipient_id"] == ["C1", "C3"] and rows["line_no"] == [2, 5]
    assert [(r.line_no, r.field) for r in rejected] == [(3, None)]  # the record's first line
    assert "line break" in rejected[0].reason and "lines 3-4" in rejected[0].reason
    assert "C000020" in rejected[0].raw  # the whole record is kept for inspection
    assert records == 3  # three records: two loaded, one rejected (read = loaded + rejected)


def test_a_stray_quote_that_never_closes_rejects_only_its_own_line(tmp_path):
    text = (
        HEADER
        + row(recipient="C0")
        + '"C1,,,1002,7001,,open,2026-03-01T10:00:00Z,\n'
        + "".join(row(recipient=f"C{i}") for i in range(2, 7))
    )
    rows, rejected, records = parse(write(tmp_path, text))
    assert [r.line_no for r in rejected] == [3] and "unbalanced quote" in rejected[0].reason
    assert rows["line_no"] == [2, 4, 5, 6, 7, 8] and records == 7


def test_a_stray_quote_is_bounded_and_does_not_swallow_the_file(tmp_path, monkeypatch):
    from include.crm_sync.responses import parse as parse_module

    monkeypatch.setattr(parse_module, "MAX_RECORD_LINES", 4)
    body = "".join(row(recipient=f"C{i}") for i in range(2, 20))
    text = HEADER + '"C1,,,1002,7001,,open,2026-03-01T10:00:00Z,\n' + body + '"x",y\n'  # a quote 18 lines on
    rows, rejected, records = parse(write(tmp_path, text))
    assert [r.line_no for r in rejected] == [2, 21]  # the stray quote; the last line has 2 fields
    assert "no closing quote within 4 lines" in rejected[0].reason
    assert rows["line_no"] == list(range(3, 21)) and records == 20


def test_a_stray_quote_closed_by_another_stray_quote_rejects_only_the_first_line(tmp_path):
    # the second line's leading quote "closes" the first and is followed by C: broken CSV, not a record
    # a writer produced; so the first quote was stray and the line after it a row of its own
    text = HEADER + '"C1,x\n' + row(recipient="C2") + '"C3,x\n' + row(recipient="C4")
    rows, rejected, records = parse(write(tmp_path, text))
    assert [r.line_no for r in rejected] == [2, 4]
    assert rows["line_no"] == [3, 5] and records == 4


@pytest.mark.parametrize("chunk_rows", [1, 2, 50_000])
def test_line_numbers_stay_right_after_multi_line_records_whatever_the_chunking(tmp_path, chunk_rows):
    two_lines = row(recipient="C2", event_type="click", link="https://x.example/\n/rest")
    three_lines = row(recipient="C4", event_type="click", link="a\nb\nc")
    text = HEADER + row(recipient="C1") + two_lines + row(recipient="C3") + three_lines + row(recipient="C5")
    rows, rejected, records = parse(write(tmp_path, text), chunk_rows=chunk_rows)
    assert rows["line_no"] == [2, 5, 9] and rows["recipient_id"] == ["C1", "C3", "C5"]
    assert [r.line_no for r in rejected] == [3, 6] and records == 5


def test_the_parser_refuses_a_landed_file_whose_bytes_changed_after_the_download(tmp_path):
    path = write(tmp_path, HEADER + row(recipient="C1", event_type="unsubscribe"))
    structure = check_structure(path, scan_file(path))
    path.write_bytes((HEADER + row(recipient="C9", event_type="unsubscribe")).encode())  # same size
    with pytest.raises(ResponseFileError, match="changed since it was downloaded"):
        list(read_chunks(path, structure))


FORGED = st.builds(
    lambda lines: row(
        recipient="C7",
        event_type="click",
        link="https://x.example/"
        + "".join(f"\nF{i},contact,F{i},1002,7001,,unsubscribe,2026-03-01T10:00:00Z," for i in range(lines)),
    ),
    st.integers(1, 4),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(
        st.one_of(
            GOOD.map(lambda r: ("good", r)),
            FORGED.map(lambda r: ("forged", r)),
            BAD.filter(lambda b: '"' not in b).map(lambda r: ("bad", r)),
        ),
        max_size=40,
    ),
    chunk_rows=st.integers(1, 7),
)
def test_rows_inside_a_quoted_value_are_never_loaded_whatever_the_chunking(tmp_path, items, chunk_rows):
    text = HEADER + "".join(r for _kind, r in items)
    rows, rejected, records = parse(write(tmp_path, text, f"f{chunk_rows}.csv"), chunk_rows=chunk_rows)
    first_lines, line = [], 2
    for _kind, r in items:
        first_lines.append(line)
        line += r.count("\n")
    assert not any(r.startswith("F") for r in rows.get("recipient_id", []))
    good = [kind == "good" for kind, _r in items]
    assert rows.get("line_no", []) == [n for n, ok in zip(first_lines, good, strict=True) if ok]
    assert [r.line_no for r in rejected] == [n for n, ok in zip(first_lines, good, strict=True) if not ok]
    assert records == len(items)


# ------------------------------------------------------------------ a "no" is kept (issue 12 points 0 and 8)


def test_a_no_failing_a_check_is_kept_when_an_id_identifies_its_person(tmp_path):
    lines = [
        row(recipient="+31612345678", event_type="unsubscribe", mailing="-7001", wave="=W", link="@x"),
        row(recipient="x" * 65, entity_id="C2", event_type="hardbounce"),
        row(recipient="C3\u200b", entity_id="C3", entity_type="robot", event_type="unsubscribe", mailing=""),
        row(recipient="C4\u200b", event_type="unsubscribe"),  # no usable id: rejected, a hold candidate
        row(recipient="C5", event_type="unsubscribed"),  # unknown type: rejected, a hold candidate
        "C6,,,1002,7001,,unsubscribe\n",  # unreadable: rejected, a hold candidate
        "C7,,,1002,7001,,open\n",  # unreadable, but an open: no hold
        row(recipient="+31612345678", event_type="open"),  # an open keeps the formula guard
    ]
    path = write(tmp_path, HEADER + "".join(lines))
    (chunk,) = read_chunks(path, check_structure(path, scan_file(path)))
    rows = chunk.rows
    assert rows["line_no"] == [2, 3, 4]
    assert rows["crm_key"] == ["+31612345678", "C2", "C3"]
    assert rows["mailing_id"] == ["-7001", "7001", None]
    assert rows["wave_id"] == ["=W", None, None] and rows["entity_type"] == [None, None, None]
    assert len(rows["recipient_id"][1]) == 64 and rows["recipient_id"][1] != rows["recipient_id"][0]
    assert [(r.line_no, r.field) for r in chunk.rejected] == [
        (5, "recipient_id"),
        (6, "event_type"),
        (7, None),
        (8, None),
        (9, "recipient_id"),
    ]
    assert sorted((h.line_no, h.ids[0]) for h in chunk.holds) == [(5, "C4\u200b"), (6, "C5"), (7, "C6")]


def test_dates_that_cannot_be_true_reject_an_open_and_give_a_no_the_time_of_receipt(tmp_path):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    lines = [
        row(recipient="C1", event_type="open", at="2099-01-01T00:00:00Z"),
        row(recipient="C2", event_type="click", at="1970-01-01T00:00:00Z"),
        row(recipient="C3", event_type="unsubscribe", at="2099-01-01T00:00:00Z"),
        row(recipient="C4", event_type="hardbounce", at="1970-01-01T00:00:00Z"),
        row(recipient="C5", event_type="unsubscribe", at="not a date"),
        row(recipient="C6", event_type="open", at="2026-03-01T12:30:00Z"),  # within the clock skew
    ]
    path = write(tmp_path, HEADER + "".join(lines))
    (parsed,) = read_chunks(path, check_structure(path, scan_file(path)))
    chunk = judge_dates(parsed, now)
    assert chunk.rows["line_no"] == [4, 5, 6, 7]
    assert chunk.rows["occurred_at"] == ["2026-03-01T12:00:00.000000Z"] * 3 + ["2026-03-01T12:30:00.000000Z"]
    assert [(r.line_no, r.field, r.reason.split(" (")[0].split(",")[0]) for r in chunk.rejected] == [
        (2, "occurred_at", "event time in the future"),
        (3, "occurred_at", "event time before 2000-01-01"),
    ]
    assert sum(chunk.untrusted_dates.values()) == 3
    stricter = judge_dates(parsed, now, EventDateRules(max_skew=timedelta(0)))
    assert stricter.rows["line_no"] == [4, 5, 6]
