"""Snapshot validation with great-expectations on SQLite and PostgreSQL, and the size guards."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.staging import tables as t
from include.crm_sync.validate.expectations import snapshot_expectations
from include.crm_sync.validate.gx_runner import run_expectations
from include.crm_sync.validate.snapshot_validation import (
    ValidationNotAllowed,
    snapshot_query,
    validate_snapshot,
)
from tests.integration.extract.crm_state import CrmState, add_sync_run, list_def

QUALITY_KEYS = [
    "recipient_id_present",
    "email_present",
    "entity_id_present",
    "optin_present",
    "attributes_complete",
    "recipient_id_unique",
    "email_unique",
    "email_syntax",
    "email_length",
    "entity_id_matches",
    "optin_configured",
    "row_count_matches",
]


def _extracted(
    engine: sa.Engine, n: int = 6, *, run_id: str = "run-1", write: bool = True, **overrides: object
) -> int:
    if write:
        state = CrmState()
        for i in range(n):
            state.entity(f"C{i:02d}", f"person{i:02d}@example.com")
        state.write(engine, run_id=run_id)
    return extract_snapshot(engine, list_def(**overrides), run_id=run_id).list_run_id


def _list_run(engine: sa.Engine, list_run_id: int) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(t.list_run).where(t.list_run.c.list_run_id == list_run_id))
            .mappings()
            .one()
        )


def _append_row(
    engine: sa.Engine, list_run_id: int, seq: int, recipient_id: str, email: str, attrs: list[str]
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.list_snapshot).values(
                list_run_id=list_run_id, seq=seq, recipient_id=recipient_id, email=email, attr_values=attrs
            )
        )


def _attrs(optin: str = "2001", entity_id: str = "C99") -> list[str]:
    return [optin, "CRM list test_list", "email", "contact", entity_id, "F", "L", "nl", "Gent"]


def test_a_good_snapshot_passes_and_is_recorded(staging_engine: sa.Engine) -> None:
    list_run_id = _extracted(staging_engine)
    report = validate_snapshot(staging_engine, list_def(), list_run_id)

    assert report.passed and report.status == "validated" and not report.forced
    assert [c.key for c in report.checks] == [*QUALITY_KEYS, "min_rows", "max_drop"]
    assert all(c.success for c in report.checks)
    row = _list_run(staging_engine, list_run_id)
    assert row["status"] == "validated"
    assert row["validation"]["passed"] is True
    assert [e["key"] for e in row["validation"]["expectations"]] == QUALITY_KEYS
    assert row["guard"]["tripped"] is False and row["guard"]["forced"] is False
    assert {c["key"]: c["observed"] for c in row["guard"]["checks"]} == {
        "min_rows": 6,
        "max_drop": "no earlier synced run to compare with",
    }


SPOTLER = {
    "name": "test_list",
    "platform": "spotler",
    "platform_list_id": None,
    "optin_process_id": None,
    "audience": {"external_id": "crm-nl", "name": "CRM NL"},
    "attributes": {"firstName": "first_name"},
}
FLEXMAIL = {
    "name": "test_list",
    "platform": "flexmail",
    "platform_list_id": None,
    "optin_process_id": None,
    "interest_label": "Honden",
    "attributes": {},
}


@pytest.mark.parametrize("overrides", [SPOTLER, FLEXMAIL], ids=["spotler", "flexmail"])
def test_a_list_without_optimizelys_technical_fields_is_validated_without_their_checks(
    staging_engine: sa.Engine, overrides: dict
) -> None:
    """A Spotler or Flexmail snapshot holds only its own attributes (no entity-id, no opt-in-id)."""
    list_run_id = _extracted(staging_engine, **overrides)
    report = validate_snapshot(staging_engine, list_def(**overrides), list_run_id)
    technical = {"entity_id_present", "entity_id_matches", "optin_present", "optin_configured"}
    assert report.passed and report.status == "validated"
    assert [c.key for c in report.checks] == [k for k in QUALITY_KEYS if k not in technical] + [
        "min_rows",
        "max_drop",
    ]


def test_broken_rows_fail_in_plain_words_with_masked_examples(
    staging_engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    list_run_id = _extracted(staging_engine)
    # Written behind the extraction's back: an invalid address, a foreign opt-in id, an entity-id
    # that is not the recipient id, a row missing attributes, a non-normalised address.
    _append_row(staging_engine, list_run_id, 6, "C90", "broken.address@@example.com", _attrs(entity_id="C90"))
    _append_row(
        staging_engine, list_run_id, 7, "C91", "foreign@example.com", _attrs(optin="9999", entity_id="C91")
    )
    _append_row(staging_engine, list_run_id, 8, "C92", "mismatch@example.com", _attrs(entity_id="C00"))
    _append_row(
        staging_engine, list_run_id, 9, "C93", "short@example.com", ["2001", "x", "email", "contact", "C93"]
    )
    _append_row(staging_engine, list_run_id, 10, "C94", "Upper.Case@Example.com", _attrs(entity_id="C94"))
    _append_row(staging_engine, list_run_id, 11, "C95", "x" * 250 + "@example.com", _attrs(entity_id="C95"))

    with caplog.at_level(logging.INFO):
        report = validate_snapshot(staging_engine, list_def(), list_run_id, force=True)

    assert (
        report.status == "invalid" and not report.passed and not report.forced
    )  # force never overrides bad data
    failed = {c.key: c for c in report.failed_expectations}
    assert set(failed) == {
        "email_syntax",
        "email_length",
        "optin_configured",
        "entity_id_matches",
        "attributes_complete",
        "row_count_matches",
    }
    assert failed["email_syntax"].unexpected_count == 2  # the over-long one only breaks the length rule
    assert sorted(failed["email_syntax"].examples) == ["U***@E***.com", "b***@@***.com"]
    assert failed["email_length"].unexpected_count == 1 and failed["email_length"].examples == [
        "x***@e***.com"
    ]
    assert failed["optin_configured"].unexpected_count == 1 and failed["optin_configured"].examples == [
        "9999"
    ]
    assert failed["entity_id_matches"].examples == ["(C92, C00)"]
    assert failed["attributes_complete"].unexpected_count == 1
    assert failed["row_count_matches"].observed == 12
    assert failed["email_syntax"].failure_text() == (
        "every e-mail address has valid syntax: FAILED, 2 rows do not comply, e.g. "
        + ", ".join(failed["email_syntax"].examples)
    )

    row = _list_run(staging_engine, list_run_id)
    assert row["status"] == "invalid" and row["validation"]["passed"] is False
    stored = {e["key"]: e for e in row["validation"]["expectations"]}
    assert stored["email_syntax"]["success"] is False and stored["email_syntax"]["unexpected_count"] == 2
    # Plain words in the log, and no full address anywhere.
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("include.crm_sync")]
    assert any(
        "expectation failed: every e-mail address has valid syntax: FAILED, 2 rows do not comply" in m
        for m in messages
    )
    assert any("snapshot INVALID" in m for m in messages)
    everything = " ".join(messages) + repr(row["validation"]) + repr(report)
    for address in (
        "broken.address@@example.com",
        "foreign@example.com",
        "Upper.Case@Example.com",
        "person00@example.com",
    ):
        assert address not in everything


def test_wrong_opt_in_id_against_the_configuration(staging_engine: sa.Engine) -> None:
    list_run_id = _extracted(staging_engine, optin_process_id="2001")
    report = validate_snapshot(staging_engine, list_def(optin_process_id="2002"), list_run_id)
    assert report.status == "invalid"
    [failed] = report.failed_expectations
    assert failed.key == "optin_configured"
    assert failed.description == "every row carries the configured opt-in id 2002"
    assert failed.unexpected_count == 6 and set(failed.examples) == {"2001"}


def test_duplicates_are_caught_by_the_expectations(staging_engine: sa.Engine) -> None:
    # list_snapshot's unique constraints stop duplicates at the door; the expectations are the
    # second line. Feed them a query that duplicates the snapshot to show they catch it.
    list_run_id = _extracted(staging_engine, n=3)
    names = list(list_def().attribute_names)
    query = snapshot_query(staging_engine.dialect.name, list_run_id, names)
    doubled = f"SELECT * FROM ({query}) AS a UNION ALL SELECT * FROM ({query}) AS b WHERE b.seq = 0"
    specs = [
        s
        for s in snapshot_expectations(
            optin_process_id="2001", attribute_count=len(names), snapshot_rows=3, min_rows=1
        )
        if s.key in ("recipient_id_unique", "email_unique", "row_count_matches")
    ]
    outcomes = {o.key: o for o in run_expectations(staging_engine, doubled, specs)}
    assert (
        not outcomes["recipient_id_unique"].success and outcomes["recipient_id_unique"].unexpected_count == 2
    )
    assert outcomes["recipient_id_unique"].examples == ["C00", "C00"]
    assert not outcomes["email_unique"].success and outcomes["email_unique"].examples == ["p***@e***.com"] * 2
    assert not outcomes["row_count_matches"].success and outcomes["row_count_matches"].observed == 4


def test_min_rows_guard_and_force(staging_engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    list_run_id = _extracted(staging_engine, n=3)
    guarded = list_def(guards={"min_rows": 4})
    report = validate_snapshot(staging_engine, guarded, list_run_id)
    assert report.status == "guarded" and not report.passed
    [tripped] = report.tripped_guards
    assert tripped.key == "min_rows" and tripped.observed == 3
    assert tripped.failure_text() == "the list has at least 4 recipients: FAILED (observed: 3)"
    assert _list_run(staging_engine, list_run_id)["status"] == "guarded"

    with caplog.at_level(logging.WARNING):
        forced = validate_snapshot(staging_engine, guarded, list_run_id, force=True)
    assert forced.passed and forced.forced and forced.status == "validated"
    row = _list_run(staging_engine, list_run_id)
    assert row["status"] == "validated"
    assert row["guard"] == {**row["guard"], "tripped": True, "force_requested": True, "forced": True}
    assert any(
        "guard tripped but FORCED past it: the list has at least 4 recipients" in r.getMessage()
        for r in caplog.records
    )


def test_empty_snapshot_trips_the_default_min_rows(staging_engine: sa.Engine) -> None:
    list_run_id = _extracted(staging_engine, n=0)
    report = validate_snapshot(staging_engine, list_def(), list_run_id)
    assert report.status == "guarded"
    assert [c.key for c in report.tripped_guards] == ["min_rows"]
    assert report.failed_expectations == []


def _synced_run(engine: sa.Engine, run_id: str, rows: int) -> None:
    """A previous run of the same list, synced with ``rows`` recipients."""
    add_sync_run(engine, run_id)
    list_run_id = extract_snapshot(engine, list_def(), run_id=run_id).list_run_id
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.list_run)
            .where(t.list_run.c.list_run_id == list_run_id)
            .values(status="synced", snapshot_rows=rows)
        )


@pytest.mark.parametrize(("now", "status"), [(4, "guarded"), (5, "validated"), (10, "validated")])
def test_volume_guard_against_the_largest_recent_synced_run(
    staging_engine: sa.Engine, now: int, status: str
) -> None:
    state = CrmState()
    for i in range(now):
        state.entity(f"C{i:02d}", f"person{i:02d}@example.com")
    state.write(staging_engine, run_id="run-today")
    _synced_run(staging_engine, "run-older", 10)  # the largest of the recent synced runs counts
    _synced_run(staging_engine, "run-yesterday", 8)
    list_run_id = _extracted(staging_engine, run_id="run-today", write=False)

    report = validate_snapshot(staging_engine, list_def(), list_run_id)

    assert report.status == status
    drop = next(c for c in report.checks if c.key == "max_drop")
    assert drop.details["previous_rows"] == 10 and drop.details["rows"] == now
    assert drop.details["previous_run_id"] == "run-older"
    assert drop.success is (status == "validated")
    if status == "guarded":
        assert drop.failure_text() == (
            "the list shrinks by at most 50% vs the largest of its last 7 synced runs: "
            "FAILED (observed: 10 -> 4 rows, a drop of 60.0% from the largest of the last 2 synced runs)"
        )
        forced = validate_snapshot(staging_engine, list_def(), list_run_id, force=True)
        assert forced.status == "validated" and forced.forced
        assert _list_run(staging_engine, list_run_id)["guard"]["forced"] is True


def test_only_extracted_snapshots_of_the_same_list_are_validated(staging_engine: sa.Engine) -> None:
    list_run_id = _extracted(staging_engine)
    with pytest.raises(ValidationNotAllowed, match="belongs to list 'test_list', not 'other'"):
        validate_snapshot(staging_engine, list_def(name="other"), list_run_id)
    with pytest.raises(ValidationNotAllowed, match="does not exist"):
        validate_snapshot(staging_engine, list_def(), 999)
    with staging_engine.begin() as conn:
        conn.execute(sa.update(t.list_run).values(status="refilling"))
    with pytest.raises(ValidationNotAllowed, match="is 'refilling'"):
        validate_snapshot(staging_engine, list_def(), list_run_id)


def test_validation_writes_no_files(
    staging_engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    list_run_id = _extracted(staging_engine)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    assert validate_snapshot(staging_engine, list_def(), list_run_id).passed
    assert list(workdir.iterdir()) == []


def test_great_expectations_is_not_imported_by_the_modules_dags_use() -> None:
    code = (
        "import sys\n"
        "import include.crm_sync.config, include.crm_sync.extract\n"
        "import include.crm_sync.validate.snapshot_validation\n"
        "assert 'great_expectations' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])
