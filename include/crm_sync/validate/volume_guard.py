"""The volume guard: a list must not shrink by more than ``max_drop_ratio`` since its last good run.

A sudden drop usually means a broken selection, a half-loaded CRM or a mass revocation that
deserves a human look -- and clearing a platform list to refill it with a fraction is hard to
undo. "Last good run" is the newest other ``list_run`` of the same list in status ``synced``;
without one (first run ever) the guard has nothing to compare with and passes.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from include.crm_sync.staging.tables import list_run
from include.crm_sync.validate.report import GUARD, CheckOutcome


def check_volume_drop(
    conn: Connection, *, list_name: str, list_run_id: int, rows: int, max_drop_ratio: float
) -> CheckOutcome:
    previous = conn.execute(
        select(list_run.c.list_run_id, list_run.c.run_id, list_run.c.snapshot_rows)
        .where(
            list_run.c.list_name == list_name,
            list_run.c.status == "synced",
            list_run.c.list_run_id != list_run_id,
        )
        .order_by(list_run.c.started_at.desc(), list_run.c.list_run_id.desc())
        .limit(1)
    ).first()
    description = f"the list shrinks by at most {max_drop_ratio:.0%} since the last synced run"
    if previous is None or not previous.snapshot_rows:
        return CheckOutcome(
            key="max_drop",
            kind=GUARD,
            description=description,
            success=True,
            observed="no earlier synced run to compare with",
            details={"previous_rows": None, "rows": rows, "max_drop_ratio": max_drop_ratio},
        )
    drop = max(0.0, (previous.snapshot_rows - rows) / previous.snapshot_rows)
    return CheckOutcome(
        key="max_drop",
        kind=GUARD,
        description=description,
        success=drop <= max_drop_ratio,
        observed=f"{previous.snapshot_rows:,} -> {rows:,} rows, a drop of {drop:.1%}",
        details={
            "previous_list_run_id": previous.list_run_id,
            "previous_run_id": previous.run_id,
            "previous_rows": previous.snapshot_rows,
            "rows": rows,
            "drop_ratio": round(drop, 6),
            "max_drop_ratio": max_drop_ratio,
        },
    )
