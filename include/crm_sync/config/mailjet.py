"""The Mailjet list block: a Mailjet contact list found (or made) by its unique name, kept in sync
by membership (see DESIGN.md).

    platform: mailjet
    consent: newsletter                   # exactly one; a service-messages list is a second list
    mailjet_list: {name: CRM newsletter}
    delete: false                         # true: the Mailjet list is deleted, no longer synced

The list's name is its canonical id (surrounding spaces dropped, otherwise exact): Mailjet keeps
list names unique, and the sync looks the numeric ID up by name. Newsletter and service consent
are never mixed: one consent per list (``ListDefinition``), and two lists may not name the same
Mailjet list (``unique_keys``), so a person with only the service consent can never land on the
newsletter list or the other way round.

Contact properties are not uploaded by this version (Mailjet needs each defined first through
``contactmetadata``), so ``attributes`` must stay empty rather than be silently dropped.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from include.crm_sync.config.base import ListDefinition
from include.crm_sync.config.common import Strict


def mailjet_list_name(raw: Any) -> str:
    """Canonical Mailjet list name: a string of 1..255 characters, surrounding spaces dropped."""
    if not isinstance(raw, str):
        raise ValueError(f"a Mailjet list name must be text, got {raw!r}")
    name = raw.strip()
    if not 1 <= len(name) <= 255:
        raise ValueError("a Mailjet list name must have 1 to 255 characters (spaces around it dropped)")
    return name


class MailjetListTarget(Strict):
    """The Mailjet contact list a list is synced into (found by name, created when missing)."""

    name: Annotated[str, BeforeValidator(mailjet_list_name)] = Field(
        description="the list's unique name in Mailjet, compared exactly"
    )


class MailjetList(ListDefinition):
    """A list synced into a Mailjet contact list (membership sync: removals first, then additions
    with ``addnoforce``)."""

    LIST_ID_FIELD = "mailjet_list.name"
    DELETE_REFUSAL = ""  # ``delete: true`` deletes the Mailjet list

    platform: Literal["mailjet"]
    mailjet_list: MailjetListTarget
    full_resync: bool = Field(
        default=False, description="the next sync reconciles the whole list against the snapshot"
    )

    @field_validator("attributes")
    @classmethod
    def _no_attributes(cls, value: dict[str, str]) -> dict[str, str]:
        if value:
            raise ValueError(
                "Mailjet lists carry no attributes in this version (contact properties are not "
                "uploaded); remove 'attributes'"
            )
        return value

    @classmethod
    def canonical_list_id(cls, raw: Any) -> str:
        return mailjet_list_name(raw)

    @property
    def platform_list_id(self) -> str:
        return self.mailjet_list.name
