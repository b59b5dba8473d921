"""The refill's column reader gives exactly what ``iter_snapshot`` gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from include.crm_sync.extract import SnapshotGapError, iter_snapshot
from include.crm_sync.platforms.base import Recipient
from include.crm_sync.platforms.recipient_batch import RecipientBatch
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.snapshot_pages import snapshot_batches
from tests.integration.extract.crm_state import add_sync_run

AWKWARD = ["Ä ö 中文 🎉", 'quote " and \\ backslash', "null", "true false", "", "a\r\nb\tc", "&<>'"]


def _snapshot(engine: sa.Engine, values: list[list]) -> int:
    add_sync_run(engine, "run-1")
    with engine.begin() as conn:
        list_run_id = conn.execute(
            sa.insert(t.list_run)
            .values(
                run_id="run-1",
                list_name="l",
                platform="optimizely",
                platform_list_id="1001",
                optin_process_id="2001",
                consent_id="newsletter",
                attribute_names=["a", "b", "c"],
                status="validated",
                snapshot_rows=len(values),
                started_at=datetime.now(UTC),
            )
            .returning(t.list_run.c.list_run_id)
        ).scalar_one()
        conn.execute(
            sa.insert(t.list_snapshot),
            [
                {
                    "list_run_id": list_run_id,
                    "seq": i,
                    "recipient_id": f"C{i:03d}",
                    "email": f"p{i}@example.com",
                    "attr_values": row,
                }
                for i, row in enumerate(values)
            ],
        )
    return list_run_id


def _read(engine: sa.Engine, list_run_id: int, **kw) -> list[RecipientBatch]:
    with engine.connect() as conn:
        return list(snapshot_batches(conn, list_run_id, **kw))


def test_columns_equal_the_recipients_iter_snapshot_reads(staging_engine: sa.Engine) -> None:
    values = [[AWKWARD[i % 7], AWKWARD[(i + 3) % 7], f"v{i}"] for i in range(23)]
    values[4] = [None, 12, 1.5]  # not what the extraction writes, but read as the old reader did
    values[5] = [True, False, None]
    list_run_id = _snapshot(staging_engine, values)

    batches = _read(staging_engine, list_run_id, batch_size=10)
    assert [len(b) for b in batches] == [10, 10, 3]
    old = [r for chunk in iter_snapshot(staging_engine, list_run_id, chunk_size=10) for r in chunk]
    assert [r for b in batches for r in b] == old
    assert old[4] == Recipient("C004", "p4@example.com", ("", "12", "1.5"))
    assert old[5].attributes == ("True", "False", "")
    assert all(isinstance(v, str) for b in batches for row in b.attribute_rows for v in row)

    resumed = _read(staging_engine, list_run_id, start_seq=20, batch_size=10)
    assert [list(b.recipient_ids) for b in resumed] == [["C020", "C021", "C022"]]
    assert _read(staging_engine, list_run_id, start_seq=23) == []
    assert _read(staging_engine, 999) == []
    with pytest.raises(ValueError, match="batch_size"):
        _read(staging_engine, list_run_id, batch_size=0)


def test_a_gap_is_an_error(staging_engine: sa.Engine) -> None:
    list_run_id = _snapshot(staging_engine, [["x", "y", "z"]] * 15)
    with staging_engine.begin() as conn:
        conn.execute(sa.delete(t.list_snapshot).where(t.list_snapshot.c.seq == 12))
    with pytest.raises(SnapshotGapError, match="gap near seq 10"):
        _read(staging_engine, list_run_id, batch_size=10)
    with pytest.raises(SnapshotGapError, match="gap near seq 10"):
        _read(staging_engine, list_run_id, batch_size=10, width=3)


@pytest.mark.parametrize("missing, near", [(range(10, 20), 10), (range(9, 10), 9)])
def test_a_gap_at_a_page_boundary_is_an_error(staging_engine: sa.Engine, missing: range, near: int) -> None:
    """A page only reads its own seq range: a dense short or empty page followed by more rows is a gap."""
    list_run_id = _snapshot(staging_engine, [["x", "y", "z"]] * 25)
    with staging_engine.begin() as conn:
        conn.execute(sa.delete(t.list_snapshot).where(t.list_snapshot.c.seq.in_(list(missing))))
    for width in (None, 3):
        with pytest.raises(SnapshotGapError, match=f"gap near seq {near}"):
            _read(staging_engine, list_run_id, batch_size=10, width=width)


def test_recipient_batch_is_a_sequence_of_recipients() -> None:
    batch = RecipientBatch(("C1", "C2"), ("a@example.com", "b@example.com"), [["x"], ["y"]])
    assert len(batch) == 2 and batch[1] == Recipient("C2", "b@example.com", ("y",))
    assert list(batch) == [Recipient("C1", "a@example.com", ("x",)), Recipient("C2", "b@example.com", ("y",))]
    assert batch[1:] == [Recipient("C2", "b@example.com", ("y",))]
    assert RecipientBatch.of(list(batch)) == batch and RecipientBatch.of(batch) is batch
    with pytest.raises(ValueError, match="columns differ"):
        RecipientBatch(("C1",), (), [])


@pytest.mark.parametrize(
    "texts, width, joined",
    [
        (['["a", "b"]', '["", "c d"]'], 2, "a\x00b\x01\x00c d"),  # PostgreSQL json_build_array
        (['["a","b"]', '["c",""]'], 2, "a\x00b\x01c\x00"),  # SQLite json_array
        (['["a", "", "b"]'], 3, "a\x00\x00b"),
        (['["x"]', '[""]'], 1, "x\x01"),
        (['["a", "b"]', '["c"]'], 2, None),  # a row of another width
        (['["a", "b", "c"]', '["d"]'], 2, None),  # ... even when the total matches
        (['["a", null]'], 2, None),
        (['["a", 5]'], 2, None),
        (['["a \\"q\\"", "b"]'], 2, None),  # an escape: decode the JSON instead
        (['["J\\u00f6hn", "b"]'], 2, None),
        (['[ "a" , "b" ]'], 2, None),
        (["[]"], 1, None),
    ],
)
def test_values_are_cut_from_the_json_text_only_when_exact(texts, width, joined):
    from include.crm_sync.sync.snapshot_pages import _joined_values

    assert _joined_values(texts, width) == joined


@pytest.mark.parametrize("escaped", [False, True])
def test_joined_and_decoded_pages_give_the_same_recipients(staging_engine: sa.Engine, escaped: bool) -> None:
    plain = ["x & y", "", "<b>", "a, b", "] , [", "'s-Hertogenbosch", "nl"]  # nothing JSON escapes
    pool = AWKWARD if escaped else plain
    values = [[pool[i % 7], pool[(i + 2) % 7], f"v{i}"] for i in range(25)]
    list_run_id = _snapshot(staging_engine, values)
    with staging_engine.connect() as conn:
        joined = list(snapshot_batches(conn, list_run_id, batch_size=10, width=3))
        decoded = list(snapshot_batches(conn, list_run_id, batch_size=10))
    assert all((b.joined_attributes is None) == escaped for b in joined)
    assert all(b.joined_attributes is None for b in decoded)
    assert [r for b in joined for r in b] == [r for b in decoded for r in b]
    assert [list(r) for b in joined for r in b.attribute_rows] == values
