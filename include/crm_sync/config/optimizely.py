"""The Optimizely Campaign list block: a recipient list, an opt-in process and technical fields.

``platform_list_id``, ``optin_process_id`` and ``media_type`` are stored under other field names
(with the YAML keys as aliases) because ``ListDefinition`` offers them as properties to every
platform; a pydantic field of the same name would be hidden by the property.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from include.crm_sync.config.base import ListDefinition
from include.crm_sync.config.ids import optimizely_list_id, optimizely_optin_process_id

#: attributes every recipient carries, in this order, filled by the extraction (not configurable)
TECHNICAL_ATTRIBUTES: tuple[str, ...] = ("opt-in-id", "description", "media-type", "entity-type", "entity-id")

OptimizelyListId = Annotated[str, BeforeValidator(optimizely_list_id)]
OptimizelyOptinProcessId = Annotated[str, BeforeValidator(optimizely_optin_process_id)]


class OptimizelyList(ListDefinition):
    """A list refilled into an Optimizely recipient list (``platform:`` may be omitted)."""

    DELETE_REFUSAL = (
        "an Optimizely recipient list is refilled, never deleted by the sync; remove 'delete', and "
        "remove the list from lists.yaml to stop refilling it"
    )

    platform: Literal["optimizely"] = "optimizely"
    list_id: OptimizelyListId = Field(alias="platform_list_id", description="recipient list id, canonical")
    optin_process: OptimizelyOptinProcessId = Field(
        alias="optin_process_id", description="opt-in process id, canonical (also sent as 'opt-in-id')"
    )
    description: str | None = Field(default=None, max_length=200, description="value of 'description'")
    media: str = Field(
        default="email", alias="media_type", pattern=r"^[a-z]{1,20}$", description="value of 'media-type'"
    )

    @field_validator("attributes")
    @classmethod
    def _no_technical_names(cls, value: dict[str, str]) -> dict[str, str]:
        if clash := sorted(set(value) & set(TECHNICAL_ATTRIBUTES)):
            raise ValueError(
                f"{', '.join(clash)} are technical fields filled automatically; remove them from 'attributes'"
            )
        return value

    @classmethod
    def canonical_list_id(cls, raw: Any) -> str:
        return optimizely_list_id(raw)

    @property
    def platform_list_id(self) -> str:
        return self.list_id

    @property
    def optin_process_id(self) -> str:
        return self.optin_process

    @property
    def media_type(self) -> str:
        return self.media

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Platform attribute names in upload order: technical fields first, then ``attributes``."""
        return TECHNICAL_ATTRIBUTES + tuple(self.attributes)

    @property
    def description_value(self) -> str:
        """Value of the ``description`` technical field."""
        return self.description if self.description is not None else super().description_value
