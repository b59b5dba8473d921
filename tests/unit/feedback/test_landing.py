"""Landing files: names, atomic writes, checksums computed while writing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from include.crm_sync.feedback.csv_schema import COLUMN_NAMES
from include.crm_sync.feedback.landing import landing_file_name, sha256_of, write_landing_file
from include.crm_sync.platforms.base import FeedbackKind, FeedbackRow

SINCE = datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
UNTIL = datetime(2026, 1, 2, 6, 30, 0, tzinfo=UTC)


def row(i: int, kind: FeedbackKind = FeedbackKind.BOUNCES, **overrides) -> FeedbackRow:
    values = dict(
        kind=kind,
        recipient_id=f"C{i:06d}",
        email=f"p{i}@example.com",
        category="hardbounce" if kind is FeedbackKind.BOUNCES else "unsubscribe",
        occurred_at=SINCE + timedelta(seconds=i),
        list_id="1001",
        mailing_id=None,
    )
    values.update(overrides)
    return FeedbackRow(**values)


def test_name_carries_platform_kind_window_and_run_id():
    name = landing_file_name("optimizely", FeedbackKind.BOUNCES, SINCE, UNTIL, "manual_1")
    assert name == "optimizely_bounces_20260101T000000123Z_20260102T063000000Z_manual_1.csv"


def test_unsafe_run_ids_are_made_safe_without_collisions():
    a = landing_file_name(
        "optimizely", FeedbackKind.UNSUBSCRIBES, SINCE, UNTIL, "scheduled__2026-01-01T00:00:00+00:00"
    )
    b = landing_file_name(
        "optimizely", FeedbackKind.UNSUBSCRIBES, SINCE, UNTIL, "scheduled__2026-01-01T00_00_00_00_00"
    )
    assert a != b
    for name in (a, b):
        assert "/" not in name and ":" not in name and "+" not in name
        assert name.startswith("optimizely_unsubscribes_")
    assert landing_file_name("x", FeedbackKind.BOUNCES, SINCE, UNTIL, "../../etc/passwd").count("/") == 0


def test_window_in_other_time_zone_is_named_in_utc():
    cet = timezone(timedelta(hours=1))
    assert landing_file_name(
        "p", FeedbackKind.BOUNCES, SINCE.astimezone(cet), UNTIL.astimezone(cet), "r"
    ) == landing_file_name("p", FeedbackKind.BOUNCES, SINCE, UNTIL, "r")


def test_write_computes_size_and_sha256_of_the_bytes_on_disk(tmp_path):
    landed = write_landing_file(tmp_path, "f.csv", FeedbackKind.BOUNCES, (row(i) for i in range(12_345)))
    data = (tmp_path / "f.csv").read_bytes()
    assert landed.rows == 12_345
    assert landed.size_bytes == len(data)
    assert landed.sha256 == hashlib.sha256(data).hexdigest() == sha256_of(tmp_path / "f.csv")
    text = data.decode("utf-8")
    assert text.splitlines()[0] == ",".join(COLUMN_NAMES)
    assert text.splitlines()[1] == "C000000,p0@example.com,hardbounce,2026-01-01T00:00:00.123000Z,1001,"
    assert "\r" not in text
    assert [p.name for p in tmp_path.iterdir()] == ["f.csv"]


def test_empty_export_is_a_header_only_file(tmp_path):
    landed = write_landing_file(tmp_path, "empty.csv", FeedbackKind.UNSUBSCRIBES, iter(()))
    assert landed.rows == 0
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8") == ",".join(COLUMN_NAMES) + "\n"


def test_values_are_written_as_received_and_quoted(tmp_path):
    odd = row(
        1,
        email='=HYPERLINK("x"),\n"quoted"',
        occurred_at=datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    )
    write_landing_file(tmp_path, "odd.csv", FeedbackKind.BOUNCES, [odd])
    text = (tmp_path / "odd.csv").read_text(encoding="utf-8")
    assert '"=HYPERLINK(""x""),\n""quoted"""' in text  # raw record: the loader judges it, not the writer
    assert "2026-01-01T00:00:00.000000Z" in text  # converted to UTC


def test_failure_while_paging_leaves_no_file(tmp_path):
    def rows():
        yield row(1)
        raise ConnectionError("platform went away")

    with pytest.raises(ConnectionError):
        write_landing_file(tmp_path, "f.csv", FeedbackKind.BOUNCES, rows())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "bad",
    [
        row(1, kind=FeedbackKind.UNSUBSCRIBES),
        row(1, occurred_at=datetime(2026, 1, 1)),  # naive
    ],
)
def test_wrong_rows_are_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        write_landing_file(tmp_path, "f.csv", FeedbackKind.BOUNCES, [bad])
    assert list(tmp_path.iterdir()) == []


def test_existing_name_is_kept_if_identical_and_never_overwritten(tmp_path):
    first = write_landing_file(tmp_path, "f.csv", FeedbackKind.BOUNCES, [row(1)])
    again = write_landing_file(tmp_path, "f.csv", FeedbackKind.BOUNCES, [row(1)])
    assert again.sha256 == first.sha256
    with pytest.raises(FileExistsError):
        write_landing_file(tmp_path, "f.csv", FeedbackKind.BOUNCES, [row(2)])
    assert sha256_of(tmp_path / "f.csv") == first.sha256
    assert [p.name for p in tmp_path.iterdir()] == ["f.csv"]
