"""``SpotlerPlatform``: the ``MembershipPlatform`` protocol on Spotler Mail+ audiences.

A platform list is an audience (its external id); members are contacts named by their external id
(the CRM entity id), which must exist first, so ``upsert`` makes or updates them with the address
in ``properties.email`` and the list's attributes as further properties (empty values are left
out rather than sent as ``""``, which a typed property would refuse). Spotler cannot list or count
an audience's members: ``member_count`` is ``None``, and the membership sync relies on its own
record of confirmed calls.

Contact codes map onto the platform-neutral outcomes: OK / CONTACT_ALREADY_EXISTS -> ``ADDED`` (the
contact exists with these fields), CONTACT_OPTOUT -> ``UNSUBSCRIBED`` (never added), PROPERTY_INVALID
-> ``INVALID``, NO_ACTIVE_CHANNEL -> ``FILTERED``, anything else -> ``ERROR``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from include.crm_sync.platforms.base import (
    AddOutcome,
    FeedbackKind,
    FeedbackRow,
    MembershipTarget,
    Recipient,
    TargetChange,
    UpsertResult,
)
from include.crm_sync.platforms.spotler.client import SpotlerClient
from include.crm_sync.platforms.spotler.errors import AudienceNotFound, SpotlerRequestRefused
from include.crm_sync.platforms.spotler.feedback import feedback_rows
from include.crm_sync.platforms.spotler.models import MAX_CONTACTS_PER_CALL, MAX_MEMBER_IDS_PER_CALL, Audience

CODE_OUTCOMES = {
    "OK": AddOutcome.ADDED,
    "CONTACT_ALREADY_EXISTS": AddOutcome.ADDED,
    "CONTACT_OPTOUT": AddOutcome.UNSUBSCRIBED,
    "PROPERTY_INVALID": AddOutcome.INVALID,
    "NO_ACTIVE_CHANNEL": AddOutcome.FILTERED,
}


def contact_json(attribute_names: Sequence[str], recipient: Recipient) -> dict[str, Any]:
    """One contact of an upsert body: the external id, the list's attributes as properties (empty
    ones left out) and the address as ``email``. (The benchmark's limit builds its bodies here too.)"""
    properties = {
        name: value for name, value in zip(attribute_names, recipient.attributes, strict=True) if value
    }
    properties["email"] = recipient.email
    return {"externalId": recipient.recipient_id, "properties": properties}


class SpotlerPlatform:
    """Membership sync on Spotler audiences over one ``SpotlerClient``.

    :param clock: the feedback import's "now" (Spotler has no time call; the import's window
        overlap absorbs clock skew)
    :param feed_page_size: items per page of the bounce and change feeds. The change feed lists every
        contact our own upserts changed too, so a big first night is followed by a long feed: large
        pages keep that to few calls. The reference documents no maximum; lower it (hook extra
        ``feed_page_size``) if the account refuses it.
    """

    name = "spotler"
    max_upsert_batch = MAX_CONTACTS_PER_CALL
    max_member_batch = MAX_MEMBER_IDS_PER_CALL

    def __init__(
        self,
        client: SpotlerClient,
        *,
        owns_client: bool = True,
        clock: Callable[[], datetime] | None = None,
        feed_page_size: int = 1000,
    ) -> None:
        self.client = client
        self._owns_client = owns_client
        self._clock = clock or (lambda: datetime.now(UTC))
        self._feed_page_size = feed_page_size

    def ensure_target(self, target: MembershipTarget) -> TargetChange:
        wanted = Audience(target.list_id, target.name, target.description or "")
        current = self.client.get_audience(target.list_id)
        if current is None:
            try:
                self.client.create_audience(wanted)
                return TargetChange.CREATED
            except SpotlerRequestRefused as exc:
                # a retried create whose first answer was lost finds its own audience: "id must be unique"
                current = self.client.get_audience(target.list_id) if exc.status == 417 else None
                if current is None:
                    raise
                if (current.name, current.description) != (wanted.name, wanted.description):
                    self.client.update_audience(wanted)
                return TargetChange.CREATED
        if (current.name, current.description) != (wanted.name, wanted.description):
            self.client.update_audience(wanted)
            return TargetChange.UPDATED
        return TargetChange.UNCHANGED

    def delete_target(self, list_id: str) -> bool:
        try:
            self.client.delete_audience(list_id)
        except AudienceNotFound:
            return False
        return True

    def upsert(self, attribute_names: Sequence[str], recipients: Sequence[Recipient]) -> list[UpsertResult]:
        contacts = [contact_json(attribute_names, r) for r in recipients]
        answers = {a.external_id: a for a in self.client.upsert_contacts(contacts)}
        results = []
        for r in recipients:
            answer = answers.get(r.recipient_id)
            code = answer.code if answer else "NO_ANSWER"
            results.append(UpsertResult(r.recipient_id, CODE_OUTCOMES.get(code, AddOutcome.ERROR), code))
        return results

    def add_members(self, list_id: str, member_ids: Sequence[str]) -> None:
        self.client.add_members(list_id, member_ids)

    def remove_members(self, list_id: str, member_ids: Sequence[str]) -> None:
        self.client.remove_members(list_id, member_ids)

    def empty(self, list_id: str) -> None:
        self.client.empty_audience(list_id)

    def member_count(self, list_id: str) -> int | None:
        return None  # Spotler has no call that lists or counts an audience's members

    def fetch_feedback(self, kind: FeedbackKind, since: datetime, until: datetime) -> Iterator[FeedbackRow]:
        return feedback_rows(self.client, kind, since, until, page_size=self._feed_page_size)

    def current_time(self) -> datetime:
        return self._clock()

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
