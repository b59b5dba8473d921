"""The small interface every campaign platform implements.

The sync engine, the feedback import and the DAGs talk only to ``RecipientListPlatform``;
nothing above this module knows whether it speaks to Optimizely Campaign, Spotler, Mailjet or
Flexmail. Result codes are the platform-neutral ``AddOutcome`` (Optimizely's numbering, which the
audit stores); each implementation maps its own answers onto it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
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
