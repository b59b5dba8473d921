"""How great-expectations is run: errors are errors, rows stay in the database, failures get detail."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.validate.expectations import snapshot_expectations
from include.crm_sync.validate.gx_runner import _raised, run_expectations
from include.crm_sync.validate.snapshot_validation import snapshot_query, validate_snapshot
from tests.integration.extract.crm_state import CrmState, list_def

# The two shapes GX 1.x uses for ExpectationValidationResult.exception_info (seen with 1.24).
FLAT_OK = {"raised_exception": False, "exception_traceback": None, "exception_message": None}
FLAT_ERROR = {
    "raised_exception": True,
    "exception_traceback": "...",
    "exception_message": "no such column: emial",
}
PER_METRIC_ERROR = {
    "MetricConfigurationID(metric_name='column_values.match_regex.unexpected_index_query', ...)": {
        "exception_traceback": (
            "Traceback ...\ngreat_expectations.exceptions.exceptions.MetricResolutionError\n"
        ),
        "exception_message": "",
        "raised_exception": "True",
    }
}


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (None, None),
        ({}, None),
        (FLAT_OK, None),
        (FLAT_ERROR, "no such column: emial"),
        (PER_METRIC_ERROR, "great_expectations.exceptions.exceptions.MetricResolutionError"),
    ],
    ids=["none", "empty", "flat-ok", "flat-error", "per-metric-error"],
)
def test_a_metric_gx_could_not_compute_is_an_error(info: object, expected: str | None) -> None:
    assert _raised(info) == expected


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine executes during the test (GX makes its own engine)."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(sa.engine.Engine, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sa.engine.Engine, "after_cursor_execute", record)


def test_gx_reads_counts_not_rows(staging_engine: sa.Engine, statements: list[str]) -> None:
    """The snapshot never travels to Python: GX's column probe gets LIMIT 0, and a passing
    snapshot costs aggregate queries only (no per-expectation scans listing unexpected values)."""
    state = CrmState()
    for i in range(5):
        state.entity(f"C{i}", f"p{i}@example.com")
    state.write(staging_engine)
    list_run_id = extract_snapshot(staging_engine, list_def(), run_id="run-1").list_run_id
    statements.clear()

    # validate_snapshot decides a passing snapshot without GX (test_sql_checks.py): GX directly here
    names = list(list_def().attribute_names)
    specs = snapshot_expectations(
        optin_process_id="2001", attribute_count=len(names), snapshot_rows=5, min_rows=1
    )
    outcomes = run_expectations(
        staging_engine, snapshot_query(staging_engine.dialect.name, list_run_id, names), specs
    )

    assert all(o.success for o in outcomes)
    query = snapshot_query(staging_engine.dialect.name, list_run_id, list(list_def().attribute_names)).strip()
    # GX probes the query's columns by running it bare (PostgreSQL) or wrapped in a LIMIT (SQLite).
    assert not [s for s in statements if s.strip() == query]
    if staging_engine.dialect.name == "postgresql":
        assert f"{query}\nLIMIT 0" in [s.strip() for s in statements]
    assert not [s for s in statements if "unexpected_values" in s]


def test_failed_expectations_are_detailed_in_a_second_pass(
    staging_engine: sa.Engine, statements: list[str]
) -> None:
    state = CrmState()
    for i in range(5):
        state.entity(f"C{i}", f"p{i}@example.com")
    state.write(staging_engine)
    list_run_id = extract_snapshot(staging_engine, list_def(), run_id="run-1").list_run_id
    statements.clear()

    report = validate_snapshot(staging_engine, list_def(optin_process_id="2009"), list_run_id)

    [failed] = report.failed_expectations
    assert (
        failed.key == "optin_configured" and failed.unexpected_count == 5 and failed.examples == ["2001"] * 5
    )
    listing = [s for s in statements if "unexpected_values" in s]
    assert listing and all("optin_attr" in s for s in listing)  # only the failed one was listed
    passed = {c.key: c.unexpected_count for c in report.checks if c.success and c.kind == "quality"}
    assert set(passed.values()) <= {0, None} and passed["email_syntax"] == 0


def test_task_log_has_one_line_per_expectation_and_no_gx_chatter(
    staging_engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """GX logs ~220 INFO lines per validate task by itself; only our one line per expectation remains."""
    state = CrmState()
    for i in range(3):
        state.entity(f"C{i}", f"p{i}@example.com")
    state.write(staging_engine)
    list_run_id = extract_snapshot(staging_engine, list_def(), run_id="run-1").list_run_id
    caplog.set_level(logging.DEBUG)

    report = validate_snapshot(staging_engine, list_def(optin_process_id="2009"), list_run_id)

    chatter = [r for r in caplog.records if r.name.startswith("great_expectations") and r.levelno < 30]
    assert chatter == []
    passed = [r.getMessage() for r in caplog.records if r.name == "include.crm_sync.validate.gx_runner"]
    failed = [r.getMessage() for r in caplog.records if "expectation failed" in r.getMessage()]
    assert all(": passed" in line for line in passed) and len(set(passed)) == len(passed)
    for check in report.checks:  # every expectation GX evaluated and passed has its one line
        if check.kind == "quality" and check.success:
            assert [line for line in passed if f"expectation {check.description}: passed" in line], check.key
    assert len(failed) == 1 and "opt-in id 2009" in failed[0]
    assert not [line for line in passed + failed if "@example.com" in line]  # masked, as every log line
