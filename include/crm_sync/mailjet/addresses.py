"""The address a member id (CRM entity id) was uploaded to a Mailjet list with; and up to when the
feedback import has read Mailjet's unsubscribes (``unsubscribes_read_until``).

Mailjet keys contacts by address, while the membership record keys members by entity id. For a
member this ``MailjetPlatform`` was not handed in this run (a removal, or a resumed run), the
address is the one of its row in the newest *completed* (``synced``) snapshot of that list --
what was actually sent; the running sync's own snapshot holds the new addresses -- and, failing
that, the CRM's current normalised address.

Both reads are index lookups (``ix_list_run_platform_list_status``, then the snapshot's unique
``(list_run_id, recipient_id)``), so a lookup costs the same at 10 million members as at ten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from include.crm_sync.feedback.window import export_name, read_watermark
from include.crm_sync.platforms.base import FeedbackKind
from include.crm_sync.staging.tables import crm_entity, list_run, list_snapshot

#: (platform list id, member ids) -> {member id: address} for those it knows
EmailLookup = Callable[[str, Sequence[str]], Mapping[str, str]]


def uploaded_email_lookup(engine: sa.Engine, *, crm_fallback: bool = True) -> EmailLookup:
    """An ``EmailLookup`` for ``MailjetPlatform(email_of=...)`` (and, with ``crm_fallback=False``,
    ``uploaded_email_of=...``)."""

    def lookup(platform_list_id: str, member_ids: Sequence[str]) -> Mapping[str, str]:
        found: dict[str, str] = {}
        with engine.connect() as conn:
            newest = conn.execute(
                sa.select(sa.func.max(list_run.c.list_run_id)).where(
                    list_run.c.platform == "mailjet",
                    list_run.c.platform_list_id == platform_list_id,
                    list_run.c.status == "synced",
                )
            ).scalar_one_or_none()
            for start in range(0, len(member_ids), 1000):
                ids = list(member_ids[start : start + 1000])
                if newest is not None:
                    rows = conn.execute(
                        sa.select(list_snapshot.c.recipient_id, list_snapshot.c.email).where(
                            list_snapshot.c.list_run_id == newest, list_snapshot.c.recipient_id.in_(ids)
                        )
                    )
                    found.update(dict(rows.all()))
                missing = [m for m in ids if m not in found]
                if missing and crm_fallback:
                    rows = conn.execute(
                        sa.select(crm_entity.c.entity_id, crm_entity.c.email_normalized).where(
                            crm_entity.c.entity_id.in_(missing), crm_entity.c.email_normalized.is_not(None)
                        )
                    )
                    found.update(dict(rows.all()))
        return found

    return lookup


def unsubscribes_read_until(engine: sa.Engine) -> Callable[[], datetime | None]:
    """For ``MailjetPlatform(unsubscribes_read_until=...)``: the watermark of the Mailjet
    unsubscribes import (Mailjet time up to which every unsubscribe was applied), or None."""

    def read_until() -> datetime | None:
        with engine.connect() as conn:
            mark = read_watermark(conn, export_name("mailjet", FeedbackKind.UNSUBSCRIBES))
        if mark is None:
            return None
        return mark.watermark if mark.watermark.tzinfo else mark.watermark.replace(tzinfo=UTC)

    return read_until
