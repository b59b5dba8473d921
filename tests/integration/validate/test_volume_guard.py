"""The volume guard follows the platform list and sees slow declines (issue 12 point 7).

Each test runs the real extraction and validation on SQLite and PostgreSQL; a night's CRM is shrunk
by revoking consents, and a validated night is marked ``synced`` as the refill would.
"""

from __future__ import annotations

import sqlalchemy as sa

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.staging import tables as t
from include.crm_sync.validate.snapshot_validation import validate_snapshot
from tests.integration.extract.crm_state import CrmState, add_sync_run, list_def


def _crm(engine: sa.Engine, people: int) -> None:
    state = CrmState()
    for i in range(people):
        state.entity(f"C{i:03d}", f"person{i:03d}@example.com")
    state.write(engine, run_id="night-0")


def _keep_consent_of(engine: sa.Engine, people: int) -> None:
    """Revoke the consent of everyone after the first ``people`` (a night's mass revocation)."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent)
            .where(t.crm_consent.c.entity_id >= f"C{people:03d}")
            .values(status="revoked")
        )


def _night(engine: sa.Engine, run_id: str, *, force: bool = False, **definition: object) -> tuple[str, dict]:
    """Extract and validate one night; a validated snapshot is marked synced. -> (status, max_drop)."""
    if run_id != "night-0":
        add_sync_run(engine, run_id)
    lst = list_def(**definition)
    list_run_id = extract_snapshot(engine, lst, run_id=run_id).list_run_id
    report = validate_snapshot(engine, lst, list_run_id, force=force)
    if report.status == "validated":
        with engine.begin() as conn:
            conn.execute(
                sa.update(t.list_run).where(t.list_run.c.list_run_id == list_run_id).values(status="synced")
            )
    drop = next(c for c in report.checks if c.key == "max_drop")
    return report.status, {"observed": drop.observed, **drop.details}


def test_a_renamed_list_keeps_its_baseline(staging_engine: sa.Engine) -> None:
    _crm(staging_engine, 20)
    assert _night(staging_engine, "night-0", name="newsletter")[0] == "validated"
    _keep_consent_of(staging_engine, 2)

    # The list was renamed in lists.yaml; it still writes platform list 1001, so a 90 % drop trips.
    status, drop = _night(staging_engine, "night-1", name="newsletter_nl", platform_list_id="01001")
    assert status == "guarded"
    assert (drop["previous_rows"], drop["rows"], drop["drop_ratio"]) == (20, 2, 0.9)
    assert drop["previous_run_id"] == "night-0"


def test_another_platform_list_of_the_same_name_is_no_baseline(staging_engine: sa.Engine) -> None:
    _crm(staging_engine, 20)
    assert _night(staging_engine, "night-0", name="newsletter")[0] == "validated"
    _keep_consent_of(staging_engine, 2)
    # Same name, but now it feeds another platform list: that list has no history to compare with.
    status, drop = _night(staging_engine, "night-1", name="newsletter", platform_list_id="1002")
    assert status == "validated" and drop["previous_rows"] is None


def test_three_nights_of_45_percent_trip_the_guard_on_the_second(staging_engine: sa.Engine) -> None:
    _crm(staging_engine, 100)
    assert _night(staging_engine, "night-0")[0] == "validated"

    _keep_consent_of(staging_engine, 55)  # -45 % vs 100: within the 50 % allowed
    status, drop = _night(staging_engine, "night-1")
    assert status == "validated" and drop["previous_rows"] == 100

    _keep_consent_of(staging_engine, 30)  # -45 % vs last night, -70 % vs the largest recent run
    status, drop = _night(staging_engine, "night-2")
    assert status == "guarded"
    assert (drop["previous_rows"], drop["rows"], drop["previous_run_id"]) == (100, 30, "night-0")
    assert drop["observed"] == "100 -> 30 rows, a drop of 70.0% from the largest of the last 2 synced runs"

    _keep_consent_of(staging_engine, 16)  # the guarded night was not synced: still compared with 100
    assert _night(staging_engine, "night-3")[0] == "guarded"


def test_the_baseline_window_is_configurable_per_list(staging_engine: sa.Engine) -> None:
    _crm(staging_engine, 100)
    guards = {"max_drop_ratio": 0.5, "baseline_runs": 1}
    assert _night(staging_engine, "night-0", guards=guards)[0] == "validated"
    _keep_consent_of(staging_engine, 55)
    assert _night(staging_engine, "night-1", guards=guards)[0] == "validated"
    _keep_consent_of(staging_engine, 30)
    # With a window of one run only last night's 55 counts: -45 % passes, as the list asked for.
    status, drop = _night(staging_engine, "night-2", guards=guards)
    assert status == "validated" and drop["previous_rows"] == 55 and drop["baseline_runs"] == 1


def test_a_size_forced_through_and_synced_is_the_new_baseline(staging_engine: sa.Engine) -> None:
    _crm(staging_engine, 100)
    assert _night(staging_engine, "night-0")[0] == "validated"
    _keep_consent_of(staging_engine, 30)
    assert _night(staging_engine, "night-1")[0] == "guarded"
    # The operator checked the drop (a real clean-up) and forced the run through; it synced.
    assert _night(staging_engine, "night-2", force=True)[0] == "validated"

    # The next night is compared with the accepted size, not held against the overridden 100.
    status, drop = _night(staging_engine, "night-3")
    assert status == "validated"
    assert (drop["previous_rows"], drop["previous_run_id"], drop["compared_runs"]) == (30, "night-2", 1)
    _keep_consent_of(staging_engine, 14)  # and a new drop from there still trips
    assert _night(staging_engine, "night-4")[0] == "guarded"
