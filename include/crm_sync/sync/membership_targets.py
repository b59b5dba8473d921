"""The platform lists of membership sync as the config wants them: deleted when gone from it.

Creating and renaming happen in ``sync_membership`` (``ensure_target``) right before the list's
sync. This module handles the other end: a list removed from ``config/lists.yaml``, or marked
``delete: true``, has its platform list deleted. The lists this project manages on a platform are
those with a ``platform_list_sync`` row, so a platform list someone made by hand is never touched.

A platform list in use (Spotler 417: a scheduled mailing, an automailer, a campaign/automation
filter) is not deleted, not retried, and does not stop the other deletions: the report carries the
sentence telling the user what to remove first, and the next run tries again. Any other error
(403 no product, credentials) is raised.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from include.crm_sync.platforms.base import MembershipPlatform, TargetInUse
from include.crm_sync.staging.tables import platform_list_sync
from include.crm_sync.sync.membership_store import MembershipStore

log = logging.getLogger(__name__)


@dataclass
class TargetCleanup:
    platform: str
    deleted: list[str] = field(default_factory=list)
    #: already gone on the platform (record dropped)
    missing: list[str] = field(default_factory=list)
    #: platform list id -> what the user must do before it can be deleted
    in_use: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "deleted": self.deleted,
            "missing": self.missing,
            "in_use": self.in_use,
        }


def lists_to_delete(
    engine: sa.Engine, platform: str, configured: Iterable[str], marked_delete: Iterable[str] = ()
) -> list[str]:
    """Managed platform lists no longer configured, plus those the config marks ``delete: true``."""
    keep = set(configured)
    with engine.connect() as conn:
        managed = conn.execute(
            sa.select(platform_list_sync.c.platform_list_id).where(platform_list_sync.c.platform == platform)
        ).scalars()
        gone = {list_id for list_id in managed if list_id not in keep}
    return sorted(gone | set(marked_delete))


def delete_removed_lists(
    engine: sa.Engine,
    platform: MembershipPlatform,
    *,
    configured: Iterable[str],
    marked_delete: Iterable[str] = (),
) -> TargetCleanup:
    """Delete every platform list ``lists_to_delete`` names; see the module docstring."""
    cleanup = TargetCleanup(platform.name)
    for list_id in lists_to_delete(engine, platform.name, configured, marked_delete):
        try:
            existed = platform.delete_target(list_id)
        except TargetInUse as exc:
            cleanup.in_use[list_id] = exc.action
            log.warning("%s list %s is in use and was not deleted: %s", platform.name, list_id, exc.action)
            continue
        with engine.begin() as conn:
            MembershipStore(platform.name, list_id).forget_list(conn)
        (cleanup.deleted if existed else cleanup.missing).append(list_id)
        log.info("%s list %s %s", platform.name, list_id, "deleted" if existed else "was already gone")
    return cleanup
