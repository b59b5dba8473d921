"""What a Flexmail label sync would do, from the record alone: for the run param ``dry_run``.

Counts only, no platform call and no write: per list, the recorded carriers of its label, the
removals its snapshot would queue (``leaving``) or cancel (``returning``), the (label, entity)
pairs the import would carry (``gaining``); for all lists together the records of the one import
(addresses) and the removal backlog now. ``gaining`` and ``import_records`` are upper bounds: a
contact may carry a label already (added by hand), and a blacklisted one is ignored by the import.
The label names are not checked against the account (that needs the platform): the real sync
does it first, before any change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from include.crm_sync.staging.tables import list_run
from include.crm_sync.sync import label_store as store
from include.crm_sync.sync.label_records import count_records


@dataclass(frozen=True)
class LabelListPreview:
    list_name: str
    label: str
    snapshot_rows: int
    members: int
    leaving: int
    returning: int
    gaining: int


@dataclass(frozen=True)
class LabelPreview:
    lists: tuple[LabelListPreview, ...]
    import_records: int
    backlog: int
    backlog_urgent: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def preview_labels(engine: sa.Engine, list_run_ids: Sequence[int]) -> LabelPreview:
    with engine.connect() as conn:
        runs = conn.execute(
            sa.select(
                list_run.c.list_run_id,
                list_run.c.list_name,
                list_run.c.platform_list_id,
                list_run.c.snapshot_rows,
            )
            .where(list_run.c.list_run_id.in_(list_run_ids))
            .order_by(list_run.c.list_name)
        ).all()
        labels = [r.platform_list_id for r in runs]
        members = store.count_members(conn, labels)
        lists = tuple(
            LabelListPreview(
                r.list_name,
                r.platform_list_id,
                int(r.snapshot_rows or 0),
                members[r.platform_list_id],
                store.count_new_leavers(conn, r.platform_list_id, r.list_run_id),
                store.count_returning(conn, r.platform_list_id, r.list_run_id),
                store.count_gaining(conn, r.platform_list_id, r.list_run_id),
            )
            for r in runs
        )
        stats = store.backlog_stats(conn)
        records = count_records(conn, [r.list_run_id for r in runs])
    return LabelPreview(lists, records, stats.size, stats.urgent)
