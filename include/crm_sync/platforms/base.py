"""The small interface every campaign platform implements.

The sync engines, the feedback import and the DAGs talk only to these protocols; nothing above
this module knows whether it speaks to Optimizely Campaign, Spotler, Mailjet or Flexmail. Two
ways to sync: ``RecipientListPlatform`` is *refill* (clear + add all, Optimizely);
``MembershipPlatform`` is *membership sync* (the platform keeps the list; we upsert contacts,
remove who left, add who is new: Spotler, Mailjet, Flexmail).

Result codes are the platform-neutral ``AddOutcome`` (Optimizely's numbering, which the
audit stores); each implementation maps its own answers onto it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


class AddOutcome(enum.IntEnum):
    """Per-recipient result of adding to a list (Optimizely ``addAll3`` codes 0-7)."""

    ADDED = 0
    INVALID = 1
    UNSUBSCRIBED = 2
    BLOCKLISTED = 3
    BOUNCE_OVERFLOW = 4
    ALREADY_IN_LIST = 5
    FILTERED = 6
    ERROR = 7

    @property
    def accepted(self) -> bool:
        """True when the recipient is in the list afterwards (added, or was already there)."""
        return self in (AddOutcome.ADDED, AddOutcome.ALREADY_IN_LIST)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One row to upload: the platform's recipient id, the address and attribute values.

    ``attributes`` is ordered like the ``attribute_names`` passed alongside the batch.
    """

    recipient_id: str
    email: str
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AddResult:
    recipient_id: str
    outcome: AddOutcome


class FeedbackKind(enum.StrEnum):
    """The feedback exports pulled before every refill."""

    BOUNCES = "bounces"
    UNSUBSCRIBES = "unsubscribes"


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One bounce or unsubscribe as the platform exported it.

    ``recipient_id`` is what the CRM uploaded as recipient id (the entity id); ``email`` is set
    where the platform only knows the address. ``list_id`` is set where the platform says which
    list (hence which consent) an unsubscribe came from. ``category`` is ``hardbounce``,
    ``softbounce``, ``overflow`` (over the bounce threshold) or ``unsubscribe``.
    """

    kind: FeedbackKind
    recipient_id: str | None
    email: str | None
    category: str
    occurred_at: datetime
    list_id: str | None = None
    mailing_id: str | None = None
    raw: tuple[str, ...] = field(default=(), compare=False)


class PlatformError(Exception):
    """Base for errors raised by platform implementations."""


class PermanentPlatformError(PlatformError):
    """The platform refused the call for a reason a retry cannot fix (credentials, unknown list, ...)."""


class TransientPlatformError(PlatformError):
    """The call failed in a way a later retry may fix (5xx, timeout, dropped connection)."""


@runtime_checkable
class RecipientListPlatform(Protocol):
    """What the sync engine needs of a campaign platform."""

    #: short platform name used in config, audit rows and logs (e.g. ``optimizely``)
    name: str
    #: the largest batch ``add_batch`` accepts
    max_batch_size: int

    def count(self, list_id: str) -> int:
        """Number of recipients currently in the list."""

    def clear(self, list_id: str) -> None:
        """Remove every recipient from the list."""

    def add_batch(
        self,
        list_id: str,
        optin_process_id: str,
        attribute_names: Sequence[str],
        recipients: Sequence[Recipient],
    ) -> Sequence[AddResult]:
        """Add one batch (at most ``max_batch_size``); one result per recipient, in input order."""

    def fetch_feedback(self, kind: FeedbackKind, since: datetime, until: datetime) -> Iterator[FeedbackRow]:
        """Every feedback row of ``kind`` the platform exported in ``[since, until)``, paged internally."""

    def current_time(self) -> datetime:
        """The platform's clock (use as ``until`` and as the next watermark)."""

    def close(self) -> None:
        """Release the session (logout) and connections."""


@runtime_checkable
class PreparedBatches(Protocol):
    """``add_batch`` in two steps, for a ``RecipientListPlatform`` that can build a request ahead.

    The refill prepares every batch before it clears the list, so that while the list is empty
    the client only sends: the encoding's CPU is not taken from the platform then.
    """

    def prepare_batch(
        self,
        list_id: str,
        optin_process_id: str,
        attribute_names: Sequence[str],
        recipients: Sequence[Recipient],
    ) -> bytes:
        """The validated, encoded request of one batch (raises what ``add_batch`` would raise)."""

    def add_prepared(self, request: bytes, recipient_ids: Sequence[str]) -> Sequence[AddResult]:
        """Send a prepared request; one result per recipient id, in order."""


# --------------------------------------------------------------------------- membership sync


@dataclass(frozen=True, slots=True)
class MembershipTarget:
    """The platform list a membership sync fills, as the config names it (e.g. a Spotler audience:
    external id, unique name, description)."""

    list_id: str
    name: str
    description: str = ""


class TargetChange(enum.StrEnum):
    """What ``ensure_target`` had to do."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """The platform's answer for one contact of an upsert.

    ``outcome`` is platform-neutral: ``ADDED`` means the contact exists with these fields and may be
    added to lists; ``UNSUBSCRIBED`` means the platform holds an opt-out (feed it back to the CRM,
    never add); anything else is a refusal. ``code`` is the platform's own code (stored as is).
    """

    member_id: str
    outcome: AddOutcome
    code: str


class TargetInUse(PermanentPlatformError):
    """The platform refuses to delete a list that is in use; ``action`` says what the user must do."""

    def __init__(self, list_id: str, action: str) -> None:
        super().__init__(f"list {list_id} is in use and was not deleted: {action}")
        self.list_id = list_id
        self.action = action


class MembersNotFound(PermanentPlatformError):
    """An add named contacts the platform does not know (``member_ids``); nothing was added."""

    def __init__(self, list_id: str, member_ids: Sequence[str]) -> None:
        super().__init__(f"list {list_id}: {len(member_ids)} contact(s) unknown to the platform")
        self.list_id = list_id
        self.member_ids = tuple(member_ids)


@runtime_checkable
class MembershipPlatform(Protocol):
    """What the membership-sync engine (``include/crm_sync/sync/membership.py``) needs of a platform."""

    #: short platform name used in config, audit rows and logs (e.g. ``spotler``)
    name: str
    #: the most contacts one ``upsert`` call takes
    max_upsert_batch: int
    #: the most member ids one ``add_members`` / ``remove_members`` call takes
    max_member_batch: int

    def ensure_target(self, target: MembershipTarget) -> TargetChange:
        """Create the list when missing; update its name/description when they differ."""

    def delete_target(self, list_id: str) -> bool:
        """Delete the list (``False`` when it did not exist); ``TargetInUse`` when the platform refuses."""

    def upsert(
        self, attribute_names: Sequence[str], recipients: Sequence[Recipient]
    ) -> Sequence[UpsertResult]:
        """Create or update the contacts (at most ``max_upsert_batch``); one result each, in input order."""

    def add_members(self, list_id: str, member_ids: Sequence[str]) -> Sequence[UpsertResult] | None:
        """Add existing contacts to the list (at most ``max_member_batch``); ``MembersNotFound`` when
        some are unknown (then none was added). Returns the members the platform refused one by one
        (the rest were added), or None / nothing when every one was added."""

    def remove_members(self, list_id: str, member_ids: Sequence[str]) -> Sequence[UpsertResult] | None:
        """Remove exactly these contacts from the list (at most ``max_member_batch``). Returns the
        members the platform refused to remove (they stay in the list), or None / nothing."""

    def empty(self, list_id: str) -> None:
        """Remove every member of the list."""

    def member_count(self, list_id: str) -> int | None:
        """Members the platform holds in the list, or ``None`` where the platform cannot tell (Spotler)."""

    def fetch_feedback(self, kind: FeedbackKind, since: datetime, until: datetime) -> Iterator[FeedbackRow]:
        """Every bounce / opt-out made on the platform in ``[since, until)``, paged internally."""

    def current_time(self) -> datetime:
        """The time to use as ``until`` and next watermark of the feedback import."""

    def close(self) -> None:
        """Release connections."""


#: takes unsubscribes a platform found on the way (e.g. right before a removal would erase them)
UnsubscribeSink = Callable[[Sequence[FeedbackRow]], None]


@runtime_checkable
class UnsubscribeAwareRemovals(Protocol):
    """A membership platform whose removal erases a list unsubscribe (Mailjet's ``remove`` deletes the
    membership with its ``IsUnsubscribed``). The membership sync hands it its opt-out sink before
    anything is removed; the platform re-reads the unsubscribes of whom it is about to remove and
    gives them to the sink first, so an unsubscribe made after the feedback import still reaches
    the CRM."""

    def report_unsubscribes_to(self, sink: UnsubscribeSink) -> None:
        """Give every list unsubscribe found right before a removal to ``sink`` (before removing)."""


@runtime_checkable
class ReconcilingPlatform(MembershipPlatform, Protocol):
    """A membership platform that can list a list's members (Mailjet). With ``lists_members`` true,
    the membership sync resolves a doubt by ``reconcile`` + adds instead of ``empty`` + adds."""

    lists_members: bool

    def reconcile(self, list_id: str, in_snapshot: Callable[[Sequence[str]], set[str]]) -> int:
        """Remove every member whose normalised address ``in_snapshot`` does not return; how many."""
