"""The volume guard: a platform list must not shrink by more than ``max_drop_ratio`` at once.

A sudden drop usually means a broken selection, a half-loaded CRM or a mass revocation that
deserves a human look -- and clearing a platform list to refill it with a fraction is hard to
undo. Two rules make the guard hold:

* The baseline belongs to the **platform list** (platform + canonical platform list id), not to the
  list's name in ``lists.yaml``: renaming a list must not lose its history, and a name that now
  feeds another platform list must not bring the old list's history along.
* The baseline is the **largest of the last** ``baseline_runs`` **synced runs**, not the last one:
  against yesterday only, a list losing 45 % a night passes a 50 % guard every night and is down
  83 % after three.

A run that an operator forced past the guard and that then synced is an accepted new size: the
window stops at it, so the next night is not held against the sizes the operator overrode.
Without an earlier synced run (first run ever) the guard has nothing to compare with and passes.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from include.crm_sync.staging.tables import list_run
from include.crm_sync.validate.report import GUARD, CheckOutcome


def _baseline_runs(
    conn: Connection, *, platform: str, platform_list_id: str, list_run_id: int, baseline_runs: int
) -> list:
    """The platform list's newest synced runs (newest first), up to the first one forced through."""
    recent = conn.execute(
        select(list_run.c.list_run_id, list_run.c.run_id, list_run.c.snapshot_rows, list_run.c.guard)
        .where(
            list_run.c.platform == platform,
            list_run.c.platform_list_id == platform_list_id,
            list_run.c.status == "synced",
            list_run.c.list_run_id != list_run_id,
        )
        .order_by(list_run.c.started_at.desc(), list_run.c.list_run_id.desc())
        .limit(baseline_runs)
    ).all()
    window = []
    for run in recent:
        window.append(run)
        if isinstance(run.guard, dict) and run.guard.get("forced"):
            break
    return window


def check_volume_drop(
    conn: Connection,
    *,
    platform: str,
    platform_list_id: str,
    list_run_id: int,
    rows: int,
    max_drop_ratio: float,
    baseline_runs: int = 7,
) -> CheckOutcome:
    """Compare ``rows`` with the largest of the platform list's last ``baseline_runs`` synced runs.

    ``platform_list_id`` must be canonical (``ListDefinition.platform_list_id`` is).
    """
    window = _baseline_runs(
        conn,
        platform=platform,
        platform_list_id=platform_list_id,
        list_run_id=list_run_id,
        baseline_runs=baseline_runs,
    )
    description = (
        f"the list shrinks by at most {max_drop_ratio:.0%} vs the largest of its last "
        f"{baseline_runs} synced run{'s' * (baseline_runs != 1)}"
    )
    common = {"rows": rows, "max_drop_ratio": max_drop_ratio, "baseline_runs": baseline_runs}
    # max() keeps the first of equals: on a tie the newest run is named as the baseline.
    largest = max(window, key=lambda run: run.snapshot_rows or 0, default=None)
    if largest is None or not largest.snapshot_rows:
        return CheckOutcome(
            key="max_drop",
            kind=GUARD,
            description=description,
            success=True,
            observed="no earlier synced run to compare with",
            details={"previous_rows": None, **common},
        )
    drop = max(0.0, (largest.snapshot_rows - rows) / largest.snapshot_rows)
    compared = f"the largest of the last {len(window)} synced run{'s' * (len(window) != 1)}"
    return CheckOutcome(
        key="max_drop",
        kind=GUARD,
        description=description,
        success=drop <= max_drop_ratio,
        observed=f"{largest.snapshot_rows:,} -> {rows:,} rows, a drop of {drop:.1%} from {compared}",
        details={
            "previous_list_run_id": largest.list_run_id,
            "previous_run_id": largest.run_id,
            "previous_rows": largest.snapshot_rows,
            "compared_runs": len(window),
            "drop_ratio": round(drop, 6),
            **common,
        },
    )
