"""The JSON shapes of Spotler's audience and contact calls, as small frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: most contacts per ``POST /contact/list``
MAX_CONTACTS_PER_CALL = 100
#: most contact ids per add / remove call on ``/audience/{externalId}/contact``
MAX_MEMBER_IDS_PER_CALL = 2500


@dataclass(frozen=True, slots=True)
class Audience:
    external_id: str
    name: str
    description: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        return cls(
            str(data["externalId"]), str(data.get("name") or ""), str(data.get("description") or ""), data
        )

    def to_json(self) -> dict[str, str]:
        return {"externalId": self.external_id, "name": self.name, "description": self.description}


@dataclass(frozen=True, slots=True)
class ContactResult:
    """One contact's answer to ``POST /contact/list`` (code OK, CONTACT_OPTOUT, PROPERTY_INVALID, ...)."""

    external_id: str
    code: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class Bounce:
    """``/contact/bounces/list``: a bounce made in Spotler (``type`` HARDBOUNCE or SOFTBOUNCE)."""

    occurred_at: datetime
    type: str
    external_id: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    """``/contact/updates/list``: a contact changed in Spotler; ``opted_out`` when its e-mail channel
    is off (the contact unsubscribed or was opted out there)."""

    occurred_at: datetime
    external_id: str | None
    email: str | None
    opted_out: bool


def parse_time(value: Any) -> datetime:
    """Spotler's timestamps: ISO 8601 (a missing zone is UTC) or epoch milliseconds."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, UTC)
    text = str(value).strip().replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """The ``fromDate``/``toDate`` query values: ISO 8601 in UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _contact_fields(contact: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    contact = contact or {}
    properties = contact.get("properties") or {}
    email = properties.get("email") if isinstance(properties, Mapping) else None
    external_id = contact.get("externalId")
    return (str(external_id) if external_id not in (None, "") else None), (str(email) if email else None)


def bounce_from_json(item: Mapping[str, Any]) -> Bounce:
    external_id, email = _contact_fields(item.get("contact"))
    return Bounce(parse_time(item["date"]), str(item.get("type") or "").upper(), external_id, email)


def email_channel_on(contact: Mapping[str, Any] | None) -> bool | None:
    """The contact's EMAIL channel flag, or ``None`` when the answer does not say."""
    for channel in (contact or {}).get("channels") or ():
        if isinstance(channel, Mapping) and str(channel.get("name", "")).upper() == "EMAIL":
            return bool(channel.get("value"))
    return None


def update_from_json(item: Mapping[str, Any]) -> ContactUpdate:
    """An item is ``{date, contact}``, or the changed contact itself (with ``lastChanged``)."""
    contact = item.get("contact") if isinstance(item.get("contact"), Mapping) else item
    external_id, email = _contact_fields(contact)
    when = item.get("date") or contact.get("lastChanged")
    return ContactUpdate(parse_time(when), external_id, email, email_channel_on(contact) is False)
