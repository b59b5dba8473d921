"""Snapshot retention on SQLite and PostgreSQL: old finished runs lose their snapshot rows, never the
newest N of a platform list, a run still in progress, or the run the platform holds now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from include.crm_sync.extract.retention import keep_runs_setting, prunable_list_runs, prune_snapshots
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import add_sync_run

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _night(engine: sa.Engine, night: int, statuses: dict[str, str], rows: int = 3) -> dict[str, int]:
    """One night's list runs (list name -> status), each with ``rows`` snapshot rows; their ids."""
    run_id = f"night-{night:02d}"
    add_sync_run(engine, run_id)
    ids = {}
    with engine.begin() as conn:
        for list_name, status in statuses.items():
            list_run_id = conn.execute(
                sa.insert(t.list_run)
                .values(
                    run_id=run_id,
                    list_name=list_name,
                    platform="optimizely_campaign",
                    platform_list_id={"news": "1001", "events": "1003"}[list_name],
                    optin_process_id="2001",
                    consent_id=list_name,
                    attribute_names=["opt-in-id"],
                    status=status,
                    snapshot_rows=rows,
                    started_at=NOW,
                )
                .returning(t.list_run.c.list_run_id)
            ).scalar_one()
            conn.execute(
                sa.insert(t.list_snapshot),
                [
                    {
                        "list_run_id": list_run_id,
                        "seq": i,
                        "recipient_id": f"C{i}",
                        "email": f"p{i}@example.com",
                        "attr_values": ["2001"],
                    }
                    for i in range(rows)
                ],
            )
            ids[list_name] = list_run_id
    return ids


def _with_rows(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(t.list_snapshot.c.list_run_id).distinct()).scalars())


def test_only_the_newest_runs_of_each_list_keep_their_snapshot(staging_engine: sa.Engine) -> None:
    nights = [_night(staging_engine, n, {"news": "synced", "events": "synced"}) for n in range(10)]
    events_only = [_night(staging_engine, n, {"events": "synced"}) for n in range(10, 13)]

    report = prune_snapshots(staging_engine, keep_runs=7)

    news = [night["news"] for night in nights]
    events = [night["events"] for night in nights] + [night["events"] for night in events_only]
    assert _with_rows(staging_engine) == set(news[-7:]) | set(events[-7:])
    assert sorted(report.list_run_ids) == sorted(news[:3] + events[:6])
    assert report.rows_deleted == 3 * 9
    with staging_engine.connect() as conn:  # the audit stays
        assert conn.execute(sa.select(sa.func.count()).select_from(t.list_run)).scalar_one() == 23
    assert prune_snapshots(staging_engine, keep_runs=7).rows_deleted == 0  # idempotent


def test_runs_in_progress_and_the_platforms_current_run_are_kept(staging_engine: sa.Engine) -> None:
    # The list last synced on night 0; then 8 nights that never synced, one of them still refilling.
    first = _night(staging_engine, 0, {"news": "synced"})["news"]
    refilling = _night(staging_engine, 1, {"news": "refilling"})["news"]
    validated = _night(staging_engine, 2, {"news": "validated"})["news"]
    failed = [_night(staging_engine, n, {"news": "failed"})["news"] for n in range(3, 9)]
    guarded = _night(staging_engine, 9, {"news": "guarded"})["news"]

    assert prunable_list_runs(staging_engine, keep_runs=2) == failed[:-1]
    prune_snapshots(staging_engine, keep_runs=2)

    assert _with_rows(staging_engine) == {first, refilling, validated, failed[-1], guarded}


def test_keep_runs_must_be_positive(staging_engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        prune_snapshots(staging_engine, keep_runs=0)


def test_the_keep_runs_setting() -> None:
    assert keep_runs_setting({}) == 7
    assert keep_runs_setting({"CRM_SYNC_SNAPSHOT_KEEP_RUNS": " 14 "}) == 14
    for bad in ("0", "-1", "seven", "1.5"):
        with pytest.raises(ValueError, match="CRM_SYNC_SNAPSHOT_KEEP_RUNS"):
            keep_runs_setting({"CRM_SYNC_SNAPSHOT_KEEP_RUNS": bad})
