"""The one-pass SQL check: a passing snapshot is decided without great-expectations, in one query;
any failure (data or guard) goes to great-expectations, which decides and details it."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.validate.expectations import snapshot_expectations
from include.crm_sync.validate.gx_runner import run_expectations
from include.crm_sync.validate.snapshot_validation import snapshot_query, validate_snapshot
from include.crm_sync.validate.sql_checks import check_in_one_pass
from tests.integration.extract.crm_state import CrmState, list_def


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(sa.engine.Engine, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sa.engine.Engine, "after_cursor_execute", record)


def _snapshot(engine: sa.Engine, n: int = 5) -> int:
    state = CrmState()
    for i in range(n):
        state.entity(f"C{i}", f"p{i}@example.com")
    state.write(engine)
    return extract_snapshot(engine, list_def(), run_id="run-1").list_run_id


def _specs(rows: int, *, optin: str = "2001", min_rows: int = 1) -> list:
    names = list(list_def().attribute_names)
    return snapshot_expectations(
        optin_process_id=optin, attribute_count=len(names), snapshot_rows=rows, min_rows=min_rows
    )


def test_a_passing_snapshot_is_one_query_and_no_gx(staging_engine: sa.Engine, statements: list[str]) -> None:
    list_run_id = _snapshot(staging_engine)
    gx_loaded = "great_expectations" in sys.modules
    statements.clear()

    report = validate_snapshot(staging_engine, list_def(), list_run_id)

    assert report.status == "validated" and report.gx_seconds == 0.0
    query = snapshot_query(staging_engine.dialect.name, list_run_id, list(list_def().attribute_names))
    reading = [s for s in statements if "FROM list_snapshot" in s]
    assert len(reading) == 1 and query.strip() in reading[0]  # the snapshot is read once
    if not gx_loaded:  # (another test of the session may have imported it already)
        assert "great_expectations" not in sys.modules
    checks = {c.key: c for c in report.checks}
    assert checks["row_count_matches"].observed == 5 and checks["min_rows"].observed == 5
    assert checks["email_syntax"].unexpected_count == 0


def test_it_agrees_with_gx_on_a_good_snapshot(staging_engine: sa.Engine) -> None:
    list_run_id = _snapshot(staging_engine)
    query = snapshot_query(staging_engine.dialect.name, list_run_id, list(list_def().attribute_names))
    specs = _specs(5)
    ours = check_in_one_pass(staging_engine, query, specs)
    theirs = run_expectations(staging_engine, query, specs)
    assert ours is not None
    assert [(o.key, o.success, o.unexpected_count, o.observed) for o in ours] == [
        (o.key, o.success, o.unexpected_count, o.observed) for o in theirs
    ]


@pytest.mark.parametrize(
    ("break_it", "spec_args"),
    [
        ("optin", {"optin": "2009"}),
        ("row_count", {}),
        ("min_rows", {"min_rows": 6}),
        ("duplicate", {}),
        ("bad_address", {}),
        ("entity_id", {}),
        ("attr_count", {}),
    ],
)
def test_any_failure_is_left_to_gx(staging_engine: sa.Engine, break_it: str, spec_args: dict) -> None:
    list_run_id = _snapshot(staging_engine)
    names = list(list_def().attribute_names)
    query = snapshot_query(staging_engine.dialect.name, list_run_id, names)
    rows = 4 if break_it == "row_count" else 5
    if break_it == "duplicate":
        query = f"SELECT * FROM ({query}) AS a UNION ALL SELECT * FROM ({query}) AS b WHERE b.seq = 0"
        rows = 6
    elif break_it in ("bad_address", "entity_id", "attr_count"):
        column, value = {
            "bad_address": ("s.email", "'broken@@example.com'"),
            "entity_id": ("s.recipient_id", "'C99'"),
            "attr_count": ("json_array_length(s.attr_values)", "3"),
        }[break_it]
        query = query.replace(
            f"{column} AS" if break_it == "attr_count" else f"{column},",
            f"CASE WHEN s.seq = 0 THEN {value} ELSE {column} END"
            + (
                " AS"
                if break_it == "attr_count"
                else (" AS email," if column == "s.email" else " AS recipient_id,")
            ),
            1,
        )
    assert check_in_one_pass(staging_engine, query, _specs(rows, **spec_args)) is None
