"""The writer lock of a Mailjet list for the runs outside ``sync_membership``: the incremental run
and the nightly pre-step.

The same lock row as the nightly membership sync's writer guard (``LockKey.platform_list("mailjet",
<list name>)``), so the incremental run and the nightly sync never write one Mailjet list at once: the
second waits up to ``settings.wait_seconds`` and then fails naming the holder (its retry, or the next
scheduled run, does the work). The owners differ (a run id here, a list run there), so neither takes the
other's lock over; a retry of the same run takes its own dead try's lock at once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import sqlalchemy as sa

from include.crm_sync.mailjet.incremental import ListLock
from include.crm_sync.sync.writer_lock import Lease, LockKey, LockSettings, hold_writer_lock


def mailjet_list_lock(
    engine: sa.Engine, *, owner: str, holder: str, settings: LockSettings | None = None
) -> ListLock:
    """``lock(list_name)``: hold that Mailjet list's writer lock, renewed from a thread (the
    incremental steps do not renew as they go)."""

    def lock(list_name: str) -> AbstractContextManager[Lease]:
        return hold_writer_lock(
            engine,
            LockKey.platform_list("mailjet", list_name),
            owner=owner,
            holder=f"{holder}, Mailjet list {list_name}",
            settings=settings,
            keep_alive=True,
        )

    return lock
