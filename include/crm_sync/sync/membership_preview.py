"""What a membership sync would do, from the record alone: for the run param ``dry_run``.

No platform call is made. ``joining`` is an upper bound: the upserts (not made here) may refuse
some, e.g. contacts opted out on the platform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Engine, and_, func, not_, select

from include.crm_sync.staging.tables import list_snapshot, platform_membership
from include.crm_sync.sync.membership_store import IN_PROGRESS, MembershipStore

M = platform_membership


@dataclass(frozen=True)
class MembershipPreview:
    mode: str
    reason: str | None
    members: int
    leaving: int
    joining: int
    snapshot_rows: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def preview_membership(
    engine: Engine, platform: str, list_id: str, list_run_id: int, *, full_resync: bool = False
) -> MembershipPreview:
    store = MembershipStore(platform, list_id)
    with engine.connect() as conn:
        state = store.state(conn)
        members = store.count_in_audience(conn)
        rows = conn.execute(
            select(func.count()).where(list_snapshot.c.list_run_id == list_run_id)
        ).scalar_one()
        already = conn.execute(
            select(func.count())
            .select_from(
                list_snapshot.join(
                    M,
                    and_(
                        M.c.platform == platform,
                        M.c.platform_list_id == list_id,
                        M.c.member_id == list_snapshot.c.recipient_id,
                    ),
                )
            )
            .where(
                list_snapshot.c.list_run_id == list_run_id, M.c.in_audience, not_(M.c.fields_hash.is_(None))
            )
        ).scalar_one()
        leaving = store.count_leaving(conn, list_run_id)
    if state is None or state.status == IN_PROGRESS or full_resync or members != state.members:
        reason = (
            "first sync"
            if state is None
            else "full resync requested"
            if full_resync
            else "the previous sync did not complete"
            if state.status == IN_PROGRESS
            else "the record disagrees with the last sync"
        )
        return MembershipPreview("full", reason, members, members, rows, rows)
    return MembershipPreview("incremental", None, members, leaving, rows - already, rows)
