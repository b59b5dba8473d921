"""The whole ``config/lists.yaml`` as a pydantic v2 model, and the names callers import from here.

Each list is validated by its platform's block (``registry.AnyListDefinition``, a discriminated
union on ``platform:``); this module adds the rules across lists: unique names, and no two lists
of one platform writing the same platform list (compared on canonical ids) or sharing another
unique value of that platform (a Spotler audience name). The loader only adds file names and line
numbers to the models' error messages.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from include.crm_sync.config.base import ListDefinition, UniqueKey
from include.crm_sync.config.common import (
    CRM_ATTRIBUTE_COLUMNS,
    ENTITY_TYPES,
    CrmColumn,
    EntityType,
    Strict,
)
from include.crm_sync.config.guards import Guards
from include.crm_sync.config.list_consents import PlatformListConsents
from include.crm_sync.config.optimizely import TECHNICAL_ATTRIBUTES, OptimizelyList
from include.crm_sync.config.registry import AnyListDefinition, canonical_platform_list_id
from include.crm_sync.config.selection import RESERVED_PARAM_PREFIX, ListFilter, Selection, bind_names
from include.crm_sync.config.spotler import SpotlerAudience, SpotlerList


class ListsConfig(Strict):
    """The whole ``lists.yaml``: a non-empty sequence of list definitions."""

    lists: list[AnyListDefinition] = Field(min_length=1)

    @field_validator("lists")
    @classmethod
    def _unique(cls, value: list[ListDefinition]) -> list[ListDefinition]:
        # Raised with the index of the second occurrence so the loader can point at its line.
        names: dict[str, int] = {}
        seen: dict[tuple[str, str, str], int] = {}
        fields: dict[tuple[str, str], tuple[str, int]] = {}
        for index, item in enumerate(value):
            if item.name in names:
                raise PydanticCustomError(
                    "duplicate_list",
                    "list name '{name}' is defined twice (entries {first} and {second}); "
                    "names must be unique",
                    {
                        "name": item.name,
                        "first": names[item.name] + 1,
                        "second": index + 1,
                        "index": index,
                        "field": "name",
                    },
                )
            names[item.name] = index
            for key in item.unique_keys():
                target = (item.platform, key.field, key.value)
                if target in seen:
                    raise PydanticCustomError(
                        "duplicate_list",
                        "lists '{other}' and '{name}' both {clash}",
                        {
                            "other": value[seen[target]].name,
                            "name": item.name,
                            "clash": key.clash,
                            "index": index,
                            "field": key.field,
                        },
                    )
                seen[target] = index
            if item.ACCOUNT_WIDE_CONTACT_FIELDS:
                for field, column in item.attributes.items():
                    where = (item.platform, field)
                    first = fields.setdefault(where, (column, index))
                    if first[0] != column:
                        raise PydanticCustomError(
                            "conflicting_field",
                            "lists '{other}' and '{name}' fill {platform} contact field '{field_name}' from "
                            "different CRM columns ({first_column}, {column}); the contact is one for the "
                            "whole account, so each night would upload it again with the other value: use "
                            "one column",
                            {
                                "other": value[first[1]].name,
                                "name": item.name,
                                "platform": item.platform,
                                "field_name": field,
                                "first_column": first[0],
                                "column": column,
                                "index": index,
                                "field": f"attributes.{field}",
                            },
                        )
        return value

    @property
    def names(self) -> list[str]:
        return [item.name for item in self.lists]

    @property
    def synced_names(self) -> list[str]:
        """The lists a run extracts and syncs: every list not marked ``delete: true``."""
        return [item.name for item in self.lists if not item.delete]

    def marked_delete(self, platform: str) -> dict[str, str]:
        """platform list id -> list name, for the lists of ``platform`` marked ``delete: true``."""
        return {
            item.platform_list_id: item.name
            for item in self.lists
            if item.platform == platform and item.delete
        }

    def get(self, name: str) -> ListDefinition:
        """The list called ``name``; KeyError naming the known lists otherwise."""
        for item in self.lists:
            if item.name == name:
                return item
        raise KeyError(f"no list named {name!r}; known lists: {', '.join(self.names)}")

    def consent_by_platform_list_id(self, platform: str = "optimizely") -> Mapping[str, str]:
        """platform list id -> consent id, for attributing a platform's unsubscribes to a consent.

        Keys are canonical; lookups canonicalise the platform's spelling (``"01001"`` finds 1001).
        """
        return PlatformListConsents(
            platform,
            {item.platform_list_id: item.consent for item in self.lists if item.platform == platform},
        )


__all__ = [
    "CRM_ATTRIBUTE_COLUMNS",
    "ENTITY_TYPES",
    "RESERVED_PARAM_PREFIX",
    "TECHNICAL_ATTRIBUTES",
    "AnyListDefinition",
    "CrmColumn",
    "EntityType",
    "Guards",
    "ListDefinition",
    "ListFilter",
    "ListsConfig",
    "OptimizelyList",
    "Selection",
    "SpotlerAudience",
    "SpotlerList",
    "UniqueKey",
    "bind_names",
    "canonical_platform_list_id",
]
