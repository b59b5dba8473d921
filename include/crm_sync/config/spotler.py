"""The Spotler Mail+ list block: an audience, kept in sync by membership (see DESIGN.md).

    platform: spotler
    audience: {external_id: crm-newsletter-nl, name: CRM newsletter NL, description: ...}
    full_resync: false                   # true: the next sync empties the audience and adds everyone
    delete: false                        # true: the audience is deleted, the list no longer synced
    attributes: {firstName: first_name}  # Spotler contact property <- CRM column

Spotler identifies an audience by a unique external id and a unique name (each 1..255
characters); the contact's address always travels as ``properties.email``.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from include.crm_sync.config.base import ListDefinition, UniqueKey
from include.crm_sync.config.common import Strict
from include.crm_sync.config.ids import spotler_audience_name, spotler_external_id

#: the contact property Spotler keeps the address in; filled from the CRM address, never mapped
ADDRESS_PROPERTY = "email"


class SpotlerAudience(Strict):
    """The audience a list is synced into; created, renamed and re-described by the sync."""

    external_id: Annotated[str, BeforeValidator(spotler_external_id)] = Field(
        description="our unique id of the audience, canonical: surrounding spaces dropped"
    )
    name: Annotated[str, BeforeValidator(spotler_audience_name)] = Field(
        description="unique name shown in Spotler, compared exactly"
    )
    description: str | None = None


class SpotlerList(ListDefinition):
    """A list synced into a Spotler audience (membership sync: removals first, then additions)."""

    ACCOUNT_WIDE_CONTACT_FIELDS = True
    LIST_ID_FIELD = "audience.external_id"
    DELETE_REFUSAL = ""  # ``delete: true`` deletes the audience (a 417 in use is reported, not failed)

    platform: Literal["spotler"]
    audience: SpotlerAudience
    full_resync: bool = Field(
        default=False, description="the next sync empties the audience and adds everyone"
    )

    @field_validator("attributes")
    @classmethod
    def _no_address_property(cls, value: dict[str, str]) -> dict[str, str]:
        if clash := sorted(k for k in value if k.lower() == ADDRESS_PROPERTY):
            raise ValueError(
                f"{', '.join(map(repr, clash))} is filled from the CRM address automatically; "
                "remove it from 'attributes'"
            )
        return value

    @classmethod
    def canonical_list_id(cls, raw: Any) -> str:
        return spotler_external_id(raw)

    @property
    def platform_list_id(self) -> str:
        return self.audience.external_id

    @property
    def description_value(self) -> str:
        return (
            self.audience.description if self.audience.description is not None else super().description_value
        )

    def unique_keys(self) -> tuple[UniqueKey, ...]:
        # Spotler refuses a second audience of the same name (417), so two lists may not share one.
        name = self.audience.name
        return (
            *super().unique_keys(),
            UniqueKey("audience.name", name, f"name the spotler audience {name!r}"),
        )
