"""The writer guard of a membership sync: one writer per platform list, newest snapshot only.

``sync_membership`` enters its ``writer_guard`` before the first platform call and holds it to the
end. This guard takes the platform list's writer lock (the same lock the Optimizely refill takes,
keyed by platform and platform list id, owned by the list run so its own retry takes it over at
once) and, under it, ends the list run ``superseded`` if a newer validated snapshot of the same
platform list exists -- so an older snapshot never reaches the platform. The lease it yields has
``renew()``, which the sync calls after every confirmed write (a sync whose lease was taken over
stops before its next write).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from include.crm_sync.sync.membership import WriterContext, WriterGuard
from include.crm_sync.sync.newest_snapshot import mark_superseded, newer_snapshot
from include.crm_sync.sync.writer_lock import Lease, LockKey, LockSettings, hold_writer_lock

log = logging.getLogger(__name__)


class MembershipSuperseded(RuntimeError):
    """A newer validated snapshot of the same platform list exists: this one is never uploaded."""


def raise_if_superseded(engine: sa.Engine, list_run_id: int, list_name: str) -> None:
    """End the list run ``superseded`` (and raise) if a newer validated snapshot exists."""
    with engine.begin() as conn:
        newer = newer_snapshot(conn, list_run_id)
        if newer is None:
            return
        reason = mark_superseded(conn, list_run_id, newer)
    log.warning("list %s: %s", list_name, reason)
    raise MembershipSuperseded(f"list {list_name!r}: {reason}")


def newest_snapshot_writer_guard(engine: sa.Engine, *, settings: LockSettings | None = None) -> WriterGuard:
    """A ``writer_guard`` for ``sync_membership`` (see the module docstring)."""

    @contextmanager
    def guard(ctx: WriterContext) -> Iterator[Lease]:
        with hold_writer_lock(
            engine,
            LockKey.platform_list(ctx.platform, ctx.platform_list_id),
            owner=f"list_run:{ctx.list_run_id}",
            holder=f"run {ctx.run_id}, list {ctx.list_name} (list run {ctx.list_run_id})",
            settings=settings,
        ) as lease:
            raise_if_superseded(engine, ctx.list_run_id, ctx.list_name)
            yield lease

    return guard
