"""Sync runs in the audit as the DAG leaves them: ``sync_run`` rows through the domain functions
(include/crm_sync/audit/runs.py), ``list_run`` rows opened by the extraction's own ``open_list_run``
and then given the counts the later steps (validate, refill, verify) write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from include.crm_sync.audit.runs import finish_sync_run, mark_feedback_ok, start_sync_run
from include.crm_sync.extract.list_runs import open_list_run
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import list_def

DAG_ID = "crm_campaign_sync"
#: the older run: both lists synced
NIGHT_1 = "scheduled__2026-11-25T03:00:00+00:00"
#: the newer run, triggered by hand: one list synced, one stopped by its guard, one failed
NIGHT_2 = "manual__2026-11-26T03:00:00+00:00"
STARTED = {
    NIGHT_1: datetime(2026, 11, 25, 3, 0, 5, tzinfo=UTC),
    NIGHT_2: datetime(2026, 11, 26, 3, 0, 5, tzinfo=UTC),
}

#: NIGHT_2's newsletter_nl answers per addAll3 result code (all eight shown, zeros too)
NEWSLETTER_CODES = {"0": 1180, "1": 3, "2": 4, "3": 2, "5": 20, "6": 1}


def start_run(engine: sa.Engine, run_id: str, *, dry_run: bool = False) -> None:
    start_sync_run(engine, run_id, dag_id=DAG_ID, dry_run=dry_run)
    mark_feedback_ok(engine, run_id)
    with engine.begin() as conn:  # fixed start times, so "newest first" is deterministic
        conn.execute(
            sa.update(t.sync_run).where(t.sync_run.c.run_id == run_id).values(started_at=STARTED[run_id])
        )


def add_list(engine: sa.Engine, run_id: str, name: str, platform_list_id: str, **counts: Any) -> None:
    """A list run of ``run_id`` opened as the extraction opens it, then given ``counts``."""
    with engine.begin() as conn:
        list_run_id = open_list_run(conn, list_def(name=name, platform_list_id=platform_list_id), run_id)
        conn.execute(sa.update(t.list_run).where(t.list_run.c.list_run_id == list_run_id).values(**counts))


def synced(
    selected: int, excluded: dict[str, int], accepted: int, codes: dict[str, int], at: datetime
) -> dict[str, Any]:
    snapshot = selected - sum(excluded.values())
    return {
        "status": "synced",
        "selected": selected,
        "excluded": excluded,
        "snapshot_rows": snapshot,
        "validation": {"expectations": [{"description": "addresses are valid", "success": True}]},
        "guard": {"checks": [{"description": "volume within 20% of last run", "success": True}]},
        "uploaded": snapshot,
        "accepted": accepted,
        "result_codes": codes,
        "rejected": snapshot - accepted,
        "platform_count": accepted,
        "cleared_at": at,
        "last_batch_at": at + timedelta(seconds=42.5),
        "finished_at": at + timedelta(seconds=45),
    }


def two_nights(engine: sa.Engine) -> None:
    """NIGHT_1 (both lists synced) and NIGHT_2 (synced / guarded / failed), both finished."""
    start_run(engine, NIGHT_1)
    add_list(
        engine,
        NIGHT_1,
        "newsletter_nl",
        "1001",
        **synced(
            1250,
            {"unsubscribed": 30, "no_consent": 10},
            1190,
            {"0": 1170, "5": 20, "3": 20},
            STARTED[NIGHT_1],
        ),
    )
    add_list(
        engine,
        NIGHT_1,
        "product_updates",
        "1002",
        **synced(400, {"entity_bounced": 5}, 390, {"0": 390, "1": 5}, STARTED[NIGHT_1]),
    )
    finish_sync_run(engine, NIGHT_1, status="success", summary={})

    start_run(engine, NIGHT_2)
    add_list(
        engine,
        NIGHT_2,
        "newsletter_nl",
        "1001",
        **synced(1260, {"unsubscribed": 40, "no_consent": 10}, 1200, NEWSLETTER_CODES, STARTED[NIGHT_2]),
    )
    add_list(
        engine,
        NIGHT_2,
        "product_updates",
        "1002",
        **{
            "status": "guarded",
            "selected": 150,
            "excluded": {"entity_bounced": 5},
            "snapshot_rows": 145,
            "validation": {"expectations": [{"description": "addresses are valid", "success": True}]},
            "guard": {
                "checks": [
                    {
                        "description": "volume within 20% of last run",
                        "success": False,
                        "observed": "145 rows, last run 390",
                    }
                ]
            },
        },
    )
    # An error text as a platform fault could word it -- with an address the page must not show.
    add_list(
        engine,
        NIGHT_2,
        "events_webinars",
        "1003",
        status="failed",
        error="SOAP fault: recipient jane.doe@example.com refused by mandator",
    )
    finish_sync_run(engine, NIGHT_2, status="failed", summary={})
