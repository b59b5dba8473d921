"""Dry run of a refill: say what would change, touch nothing on the platform."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from include.crm_sync.platforms.base import RecipientListPlatform
from include.crm_sync.staging.tables import list_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefillPreview:
    list_name: str
    platform_list_id: str
    platform_count: int
    snapshot_rows: int

    @property
    def change(self) -> int:
        return self.snapshot_rows - self.platform_count


def preview_refill(engine: Engine, platform: RecipientListPlatform, list_run_id: int) -> RefillPreview:
    """Count the platform list (a read) and record the list run as ``dry_run``."""
    with engine.connect() as conn:
        row = conn.execute(select(list_run).where(list_run.c.list_run_id == list_run_id)).mappings().one()
    count = platform.count(row["platform_list_id"])
    preview = RefillPreview(row["list_name"], row["platform_list_id"], count, row["snapshot_rows"] or 0)
    with engine.begin() as conn:
        conn.execute(
            update(list_run)
            .where(list_run.c.list_run_id == list_run_id)
            .values(status="dry_run", platform_count=count, finished_at=datetime.now(UTC))
        )
    log.info(
        "list %s (dry run): platform list %s holds %d recipients; a refill would upload %d (%+d)",
        preview.list_name,
        preview.platform_list_id,
        count,
        preview.snapshot_rows,
        preview.change,
    )
    return preview
