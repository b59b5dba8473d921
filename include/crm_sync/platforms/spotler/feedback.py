"""Spotler's bounces and opt-outs as the feedback import's ``FeedbackRow``.

=================  =========================================================================
kind               rows
=================  =========================================================================
``BOUNCES``        ``/contact/bounces/list``: HARDBOUNCE -> ``hardbounce`` (the CRM entity is
                   marked bounced), SOFTBOUNCE -> ``softbounce`` (stored only)
``UNSUBSCRIBES``   ``/contact/updates/list``: a contact whose EMAIL channel is off opted out in
                   Spotler -> ``unsubscribe`` without list id. Spotler's opt-out is account-wide,
                   not per audience, so the import revokes every marketing consent of the
                   entity (a service-messages consent stays). Other updates are not feedback.
=================  =========================================================================

The recipient id is the contact's external id (= the CRM entity id we upserted); the address is
passed on too, so a contact made in Spotler itself still matches by address.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from include.crm_sync.platforms.base import FeedbackKind, FeedbackRow
from include.crm_sync.platforms.spotler.client import SpotlerClient

BOUNCE_CATEGORIES = {"HARDBOUNCE": "hardbounce", "SOFTBOUNCE": "softbounce"}


def feedback_rows(
    client: SpotlerClient, kind: FeedbackKind, since: datetime, until: datetime, *, page_size: int = 100
) -> Iterator[FeedbackRow]:
    """Every ``kind`` row Spotler holds for ``[since, until)`` (times outside it are skipped)."""
    if kind is FeedbackKind.BOUNCES:
        for bounce in client.bounces(since, until, page_size=page_size):
            category = BOUNCE_CATEGORIES.get(bounce.type)
            if category is None or not since <= bounce.occurred_at < until:
                continue
            yield FeedbackRow(kind, bounce.external_id, bounce.email, category, bounce.occurred_at)
    else:
        for update in client.updates(since, until, page_size=page_size):
            if update.opted_out and since <= update.occurred_at < until:
                yield FeedbackRow(kind, update.external_id, update.email, "unsubscribe", update.occurred_at)
