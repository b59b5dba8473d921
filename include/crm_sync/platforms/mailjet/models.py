"""What the Mailjet client returns: list memberships, contacts and finished jobs, parsed from
Mailjet's JSON (times are ISO-8601 UTC; an empty string means "never")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: the membership actions a sync may send; ``addforce`` is deliberately absent: it re-subscribes
#: someone who unsubscribed from the list (invariant 8)
SYNC_ACTIONS = ("addnoforce", "remove", "unsub")
#: the most contacts one managemanycontacts call carries (Mailjet publishes no limit; a setting)
MAX_CONTACTS_PER_JOB = 1000
PAGE_SIZE = 1000  # Mailjet's largest Limit


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Membership:
    """One ``listrecipient`` row: a contact's membership of one list."""

    contact_id: int
    list_id: int
    unsubscribed: bool
    subscribed_at: datetime | None
    unsubscribed_at: datetime | None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Membership:
        return cls(
            int(doc["ContactID"]),
            int(doc["ListID"]),
            bool(doc.get("IsUnsubscribed")),
            parse_time(doc.get("SubscribedAt")),
            parse_time(doc.get("UnsubscribedAt")),
        )


@dataclass(frozen=True, slots=True)
class Contact:
    contact_id: int
    email: str
    excluded: bool
    excluded_at: datetime | None
    created_at: datetime | None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Contact:
        return cls(
            int(doc["ID"]),
            str(doc.get("Email") or ""),
            bool(doc.get("IsExcludedFromCampaigns")),
            parse_time(doc.get("ExclusionFromCampaignsUpdatedAt")),
            parse_time(doc.get("CreatedAt")),
        )


@dataclass(frozen=True, slots=True)
class ListMember:
    """A list member with its address: a ``Membership`` joined to its ``Contact``."""

    contact_id: int
    email: str
    unsubscribed: bool
    excluded: bool
    subscribed_at: datetime | None
    unsubscribed_at: datetime | None
    excluded_at: datetime | None


@dataclass(frozen=True, slots=True)
class JobResult:
    """A finished managemanycontacts job: ``errors`` are (address, reason) Mailjet refused."""

    job_id: int
    status: str
    count: int
    errors: tuple[tuple[str, str], ...] = ()
