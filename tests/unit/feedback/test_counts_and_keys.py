"""Count arithmetic, and the row key SQL computes on SQLite equals the documented formula."""

from __future__ import annotations

import sqlite3

import pytest

from include.crm_sync.feedback.counts import FeedbackCounts
from include.crm_sync.feedback.errors import CountMismatchError
from include.crm_sync.feedback.event_key import register_sqlite_functions, row_key
from include.crm_sync.feedback.sql_files import SQL_DIR, feedback_sql


def test_counts_add_up():
    counts = FeedbackCounts(read=10, applied=6, known=3, rejected=1)
    assert counts.check("f.csv") is counts
    assert counts + FeedbackCounts(2, 1, 1, 0) == FeedbackCounts(12, 7, 4, 1)
    assert FeedbackCounts.zero().adds_up


@pytest.mark.parametrize("counts", [FeedbackCounts(10, 6, 3, 0), FeedbackCounts(10, 6, 5, -1)])
def test_counts_that_do_not_add_up_raise_naming_the_file(counts):
    with pytest.raises(CountMismatchError, match="f.csv: counts do not add up"):
        counts.check("f.csv")


def test_sqlite_gets_postgresql_hash_functions_matching_row_key():
    conn = sqlite3.connect(":memory:")
    register_sqlite_functions(conn)
    sql = "SELECT encode(sha256(convert_to(? || '|' || coalesce(?, ''), 'UTF8')), 'hex')"
    for event, entity in (("a" * 64, "C1"), ("b" * 64, None), ("c" * 64, "L-\u00e9\u4e2d")):
        assert conn.execute(sql, (event, entity)).fetchone()[0] == row_key(event, entity)
    assert row_key("k", None) == row_key("k", "")
    assert row_key("k", "C1") != row_key("k", "C2")


def test_match_sql_uses_the_row_key_formula():
    text = (SQL_DIR / "match.sql").read_text()
    assert "encode(sha256(convert_to(" in text and "|| '|' ||" in text


def test_sql_loader_names_a_missing_file():
    assert "tmp_feedback_match" in feedback_sql("match").text
    with pytest.raises(FileNotFoundError, match="no_such_statement"):
        feedback_sql("no_such_statement")
