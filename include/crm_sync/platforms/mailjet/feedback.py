"""Mailjet's own "no" as the feedback import's ``FeedbackRow`` (read before every sync).

=================  =========================================================================
kind               rows
=================  =========================================================================
``UNSUBSCRIBES``   per managed list, each membership with ``IsUnsubscribed`` (read filtered) whose
                   ``UnsubscribedAt`` falls in the window -> ``unsubscribe`` WITH the list id
                   (the list's name, its canonical id): the import revokes that list's consent
                   only. Then each contact whose ``IsExcludedFromCampaigns`` was set in the
                   window -> ``unsubscribe`` WITHOUT list id: the import revokes every
                   marketing consent, and a service-messages consent stays
                   (``crm_consent_type.is_marketing``).
``BOUNCES``        none: Mailjet reports bounces as events (webhooks), not as a list state.
=================  =========================================================================

Rows carry the address only (contacts are keyed by address); the import matches it to CRM
entities by normalised address.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from include.crm_sync.platforms.base import FeedbackKind, FeedbackRow
from include.crm_sync.platforms.mailjet.client import MailjetClient


def feedback_rows(
    client: MailjetClient, lists: Mapping[str, int], kind: FeedbackKind, since: datetime, until: datetime
) -> Iterator[FeedbackRow]:
    """``lists``: platform list id (the list name) -> Mailjet list ID, for every managed list."""
    if kind is not FeedbackKind.UNSUBSCRIBES:
        return
    for name, list_id in lists.items():
        # only the unsubscribed memberships are read; the address is looked up for those in the window
        for membership in client.memberships(list_id, unsubscribed=True):
            at = membership.unsubscribed_at
            if at is not None and since <= at < until:
                email = client.contact(membership.contact_id).email
                yield FeedbackRow(kind, None, email, "unsubscribe", at, list_id=name)
    for contact in client.excluded_contacts():
        at = contact.excluded_at
        if at is not None and since <= at < until:
            yield FeedbackRow(kind, None, contact.email, "unsubscribe", at)
