"""The demo's CRM between the nights: some people opt in again, so night 2 adds as well as removes.

Without a change in the CRM, night 2 could only remove (bounces, unsubscribes, opt-outs made on
the platforms). In a real week people also give a consent on the website; here the first
``per_consent`` Dutch-speaking contacts and leads (in entity id order, so every run picks the same
ones; Dutch, because most of the demo's lists select Dutch speakers) whose consent was revoked in
the CRM itself (source ``crm``, not by platform feedback) grant it again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, select, update

from include.crm_sync.staging.tables import crm_consent, crm_entity

#: the consents the demo's lists are bound to
DEMO_CONSENTS = ("newsletter", "product_updates", "events")


def opt_in_again(engine: Engine, moment: datetime, per_consent: int = 60) -> dict[str, int]:
    """Grant each of ``DEMO_CONSENTS`` again to ``per_consent`` people; returns consent -> count."""
    granted: dict[str, int] = {}
    with engine.begin() as conn:
        for consent in DEMO_CONSENTS:
            chosen = (
                conn.execute(
                    select(crm_consent.c.entity_id)
                    .join(crm_entity, crm_entity.c.entity_id == crm_consent.c.entity_id)
                    .where(
                        crm_entity.c.entity_type.in_(("contact", "lead")),
                        crm_entity.c.language == "nl",
                        crm_consent.c.consent_id == consent,
                        crm_consent.c.status == "revoked",
                        crm_consent.c.source == "crm",
                    )
                    .order_by(crm_consent.c.entity_id)
                    .limit(per_consent)
                )
                .scalars()
                .all()
            )
            if chosen:
                conn.execute(
                    update(crm_consent)
                    .where(and_(crm_consent.c.consent_id == consent, crm_consent.c.entity_id.in_(chosen)))
                    .values(status="granted", granted_at=moment, revoked_at=None, updated_at=moment)
                )
            granted[consent] = len(chosen)
    return granted
