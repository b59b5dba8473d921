"""The address a member id (CRM entity id) was uploaded to Mailjet with.

Mailjet keys contacts by address, while the membership record keys members by entity id. For a
member this ``MailjetPlatform`` was not handed in this run (a removal, or a resumed run), the
address is the one of its newest snapshot row of a completed sync -- what was actually sent --
and, failing that, the CRM's current normalised address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from include.crm_sync.staging.tables import crm_entity, list_run, list_snapshot


def uploaded_email_lookup(  # noqa: ANN201
    engine: sa.Engine, platform_list_id: str | None = None, *, crm_fallback: bool = True
):
    """An ``EmailLookup`` for ``MailjetPlatform(email_of=...)`` (and, with ``crm_fallback=False``,
    ``uploaded_email_of=...``). Only snapshots of list runs that completed (``synced``) count:
    the running sync's own snapshot holds the new addresses, not the uploaded ones."""

    def lookup(member_ids: Sequence[str]) -> Mapping[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(member_ids), 1000):
            ids = list(member_ids[start : start + 1000])
            with engine.connect() as conn:
                query = (
                    sa.select(list_snapshot.c.recipient_id, list_snapshot.c.email)
                    .join(list_run, list_run.c.list_run_id == list_snapshot.c.list_run_id)
                    .where(
                        list_run.c.platform == "mailjet",
                        list_run.c.status == "synced",
                        list_snapshot.c.recipient_id.in_(ids),
                    )
                    .order_by(list_run.c.list_run_id)
                )
                if platform_list_id is not None:
                    query = query.where(list_run.c.platform_list_id == platform_list_id)
                for recipient_id, email in conn.execute(query):
                    found[recipient_id] = email  # ordered by run: the newest upload wins
                missing = [m for m in ids if m not in found]
                if missing and crm_fallback:
                    rows = conn.execute(
                        sa.select(crm_entity.c.entity_id, crm_entity.c.email_normalized).where(
                            crm_entity.c.entity_id.in_(missing), crm_entity.c.email_normalized.is_not(None)
                        )
                    )
                    found.update({entity_id: email for entity_id, email in rows})
        return found

    return lookup
