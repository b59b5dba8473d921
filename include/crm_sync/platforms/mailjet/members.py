"""A Mailjet list's members with their addresses: ``listrecipient`` (membership, unsubscribe) and
``contact?ContactsList=`` (address, exclusion) are two paged streams of the same contacts, both
ordered by contact ID, merged here page by page -- memory stays flat whatever the list size."""

from __future__ import annotations

from collections.abc import Iterator

from include.crm_sync.platforms.mailjet.client import MailjetClient
from include.crm_sync.platforms.mailjet.models import ListMember


def list_members(client: MailjetClient, list_id: int) -> Iterator[ListMember]:
    """Every member of the list (unsubscribed ones too), by contact ID."""
    contacts = client.list_contacts(list_id)
    contact = next(contacts, None)
    for membership in client.memberships(list_id):
        # a contact created between the two reads may appear in one stream only: skip it
        while contact is not None and contact.contact_id < membership.contact_id:
            contact = next(contacts, None)
        if contact is None or contact.contact_id != membership.contact_id:
            continue
        yield ListMember(
            contact.contact_id,
            contact.email,
            membership.unsubscribed,
            contact.excluded,
            membership.subscribed_at,
            membership.unsubscribed_at,
            contact.excluded_at,
        )
