"""The account's records: contacts, audiences, property definitions, and the two change feeds
(contact changes, bounces). Plain data; state.py holds them under one lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from include.emulators.kit.clock import iso_utc

EMAIL_CHANNEL = "EMAIL"
PROPERTY_TYPES = ("email", "string", "int", "date", "set", "boolean")
BOUNCE_TYPES = ("HARDBOUNCE", "SOFTBOUNCE")


@dataclass(frozen=True)
class PropertyDef:
    name: str
    type: str
    description: str = ""
    entries: tuple[tuple[int, str], ...] = ()  # SET properties: (bit, description)

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "type": self.type, "description": self.description}
        if self.type == "set":
            document["entries"] = [{"bit": bit, "description": text} for bit, text in self.entries]
        return document


@dataclass(slots=True)
class Contact:
    external_id: str
    properties: dict[str, Any]
    created: float
    last_changed: float
    email_active: bool = True  # False: the contact opted out of e-mail in Spotler
    test_group: bool = False
    temporary: bool = False
    change_seq: int = -1  # position of its newest entry in the change feed (state.py)

    @property
    def encrypted_id(self) -> str:
        return hashlib.sha1(self.external_id.encode("utf-8")).hexdigest()[:24]

    def as_json(self) -> dict[str, Any]:
        return {
            "externalId": self.external_id,
            "properties": _properties_json(self.properties),
            "channels": [{"name": EMAIL_CHANNEL, "value": self.email_active}],
            "testGroup": self.test_group,
            "encryptedId": self.encrypted_id,
            "created": iso_utc(self.created),
            "lastChanged": iso_utc(self.last_changed),
            "temporary": self.temporary,
        }


def _properties_json(properties: dict[str, Any]) -> dict[str, Any]:
    # SET values are kept as {bit: enabled} and written back in the wire form.
    return {
        name: [{"bit": bit, "enabled": on} for bit, on in sorted(value.items())]
        if isinstance(value, dict)
        else value
        for name, value in properties.items()
    }


@dataclass
class Audience:
    external_id: str
    name: str
    description: str
    create_date: float
    change_date: float
    last_added: float | None = None
    last_removed: float | None = None
    last_sync: float | None = None
    in_use: bool = False
    in_use_reason: str = ""
    # Insertion-ordered set of the members' external ids (dict keys keep order, sets do not).
    members: dict[str, None] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """What the public API shows: no members (the API has no member listing)."""
        return {
            "externalId": self.external_id,
            "name": self.name,
            "description": self.description,
            "createDate": iso_utc(self.create_date),
            "changeDate": iso_utc(self.change_date),
            "lastContactAddedAt": _maybe_iso(self.last_added),
            "lastContactRemovedAt": _maybe_iso(self.last_removed),
            "lastSyncDate": _maybe_iso(self.last_sync),
        }

    def control_json(self, with_members: bool = True) -> dict[str, Any]:
        document = self.as_json()
        document.update(
            {"in_use": self.in_use, "in_use_reason": self.in_use_reason, "size": len(self.members)}
        )
        if with_members:
            document["members"] = list(self.members)
        return document


@dataclass(frozen=True, slots=True)
class Bounce:
    at: float
    external_id: str
    type: str


def _maybe_iso(moment: float | None) -> str | None:
    return None if moment is None else iso_utc(moment)
