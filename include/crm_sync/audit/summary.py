"""The summary of one sync run, built from the audit tables (the single source of truth).

Used by the DAG's report task, the demo's closing lines and the tests: per list, what was
selected, excluded by reason, kept in the snapshot, uploaded, answered per result code,
rejected, counted on the platform, and how long the platform list stood empty.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from include.crm_sync.staging.tables import list_run, sync_run


@dataclass(frozen=True)
class ListSummary:
    list_name: str
    platform: str
    platform_list_id: str
    status: str
    selected: int | None
    excluded: dict[str, int]
    snapshot_rows: int | None
    uploaded: int | None
    accepted: int | None
    result_codes: dict[str, int]
    rejected: int | None
    platform_count: int | None
    window_seconds: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status in ("synced", "dry_run")


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    dry_run: bool
    feedback_ok: bool
    lists: list[ListSummary] = field(default_factory=list)

    @property
    def failed_lists(self) -> list[str]:
        return [item.list_name for item in self.lists if not item.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "feedback_ok": self.feedback_ok,
            "lists": [asdict(item) for item in self.lists],
            "failed_lists": self.failed_lists,
        }

    def as_table(self) -> str:
        """A plain-text table for logs and the terminal (counts only, no addresses)."""
        header = ("list", "status", "selected", "excluded", "snapshot", "uploaded", "accepted", "codes 0-7",
                  "rejected", "on platform", "empty s")
        rows = [header]
        for item in self.lists:
            codes = "/".join(str(item.result_codes.get(str(c), 0)) for c in range(8)) if item.result_codes else "-"
            rows.append(
                tuple(
                    "-" if v is None else str(v)
                    for v in (
                        item.list_name, item.status, item.selected, sum(item.excluded.values()),
                        item.snapshot_rows, item.uploaded, item.accepted, codes, item.rejected,
                        item.platform_count, item.window_seconds,
                    )
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows)


def build_run_summary(engine: Engine, run_id: str) -> RunSummary:
    with engine.connect() as conn:
        run = conn.execute(select(sync_run).where(sync_run.c.run_id == run_id)).mappings().first()
        if run is None:
            raise LookupError(f"sync run {run_id!r} does not exist")
        rows = conn.execute(
            select(list_run).where(list_run.c.run_id == run_id).order_by(list_run.c.list_name)
        ).mappings().all()
    return RunSummary(
        run_id=run_id,
        dry_run=bool(run["dry_run"]),
        feedback_ok=bool(run["feedback_ok"]),
        lists=[
            ListSummary(
                list_name=r["list_name"], platform=r["platform"], platform_list_id=r["platform_list_id"],
                status=r["status"], selected=r["selected"], excluded=dict(r["excluded"] or {}),
                snapshot_rows=r["snapshot_rows"], uploaded=r["uploaded"], accepted=r["accepted"],
                result_codes={str(k): v for k, v in (r["result_codes"] or {}).items()}, rejected=r["rejected"],
                platform_count=r["platform_count"], window_seconds=r["window_seconds"], error=r["error"],
            )
            for r in rows
        ],
    )
