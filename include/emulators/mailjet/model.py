"""The emulator's records: contacts (keyed by address), contact lists (unique names), list
memberships (``listrecipient``), bulk jobs and CSV imports, contact metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from include.emulators.kit.clock import iso_utc

#: the order a job goes through; ``Error`` (or ``Abort``) may replace ``Completed``
JOB_STEPS = ("Allocated", "Upload", "Prepare", "Importing", "Completed")
ACTIONS = ("addforce", "addnoforce", "remove", "unsub")
DATATYPES = ("str", "int", "float", "datetime", "bool")


def _iso(at: float | None) -> str:
    return iso_utc(at) if at is not None else ""


@dataclass
class Contact:
    id: int
    email: str
    name: str
    created_at: float
    excluded: bool = False
    excluded_at: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Email": self.email,
            "Name": self.name,
            "IsExcludedFromCampaigns": self.excluded,
            "CreatedAt": _iso(self.created_at),
            "ExclusionFromCampaignsUpdatedAt": _iso(self.excluded_at),
            "IsOptInPending": False,
            "IsSpamComplaining": False,
            "DeliveredCount": 0,
        }


@dataclass
class ContactsList:
    id: int
    name: str
    created_at: float
    is_deleted: bool = False

    def as_json(self, subscribers: int) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Name": self.name,
            "Address": f"{self.name.lower().replace(' ', '')[:20]}{self.id}@lists.mailjet.com",
            "CreatedAt": _iso(self.created_at),
            "IsDeleted": self.is_deleted,
            "SubscriberCount": subscribers,
        }


@dataclass
class Membership:
    id: int
    contact_id: int
    list_id: int
    subscribed_at: float
    unsubscribed: bool = False
    unsubscribed_at: float | None = None

    def as_json(self, list_name: str) -> dict[str, Any]:
        return {
            "ID": self.id,
            "ContactID": self.contact_id,
            "ListID": self.list_id,
            "ListName": list_name,
            "IsActive": not self.unsubscribed,
            "IsUnsubscribed": self.unsubscribed,
            "SubscribedAt": _iso(self.subscribed_at),
            "UnsubscribedAt": _iso(self.unsubscribed_at),
        }


@dataclass
class Job:
    """A managemanycontacts job or a CSV import: applied when it completes (emulated time)."""

    id: int
    kind: str  # "contacts" | "csv"
    created_at: float
    #: [(list_id, action)] the job applies to each contact
    lists: list[tuple[int, str]]
    contacts: list[dict[str, Any]]
    outcome: str = "Completed"  # "Completed" | "Error" | "hang" (stays Importing)
    applied: bool = False
    errors: list[tuple[str, str]] = field(default_factory=list)  # (email, reason)
    error_message: str = ""
    data_id: int | None = None
    method: str = ""

    def status(self, now: float, duration: float) -> str:
        if self.applied:
            return "Error" if self.outcome == "Error" else "Completed"
        elapsed = now - self.created_at
        if duration <= 0 or elapsed >= duration:
            return "Importing" if self.outcome == "hang" else "Completed"
        step = min(int(elapsed / duration * 4), 3)
        return JOB_STEPS[step]
