"""The list definitions of ``config/lists.yaml`` as pydantic v2 models.

A list definition says which CRM entities form a platform list (``selection``), under which one
consent they may be mailed (``consent``), which attributes travel with each recipient and which
guards protect the platform list from a broken extraction. The models are the single place the
rules live; the loader only adds file names and line numbers to their error messages.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from include.crm_sync.config.paths import SQL_ROOT

#: attributes every recipient carries, in this order, filled by the extraction (not configurable)
TECHNICAL_ATTRIBUTES: tuple[str, ...] = ("opt-in-id", "description", "media-type", "entity-type", "entity-id")

#: CRM columns (of ``crm_entity``) a list may map onto platform attributes; a whitelist, because the
#: column name is placed into SQL and because only these are meant to leave the CRM.
CRM_ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "company_name",
    "language",
    "city",
    "country",
)
CrmColumn = Literal["first_name", "last_name", "company_name", "language", "city", "country"]

ENTITY_TYPES: tuple[str, ...] = ("contact", "lead", "account")
EntityType = Literal["contact", "lead", "account"]

#: bind-parameter prefix the extraction queries use for themselves; selection params may not use it
RESERVED_PARAM_PREFIX = "sys_"

_SLUG = r"^[a-z][a-z0-9_]{0,62}$"
_PLATFORM_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_CONSENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_ATTRIBUTE_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,99}$"
_SELECTION_FILE = re.compile(r"^lists/[A-Za-z0-9_][A-Za-z0-9_/-]*\.sql$")
# Same rule as SQLAlchemy's text(): ``:name`` not preceded by a word char, colon or backslash
# (so PostgreSQL ``::casts`` and ``\:`` escapes are not taken for parameters).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_SQL_NOISE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.S)


def bind_names(sql: str) -> set[str]:
    """Names of the ``:params`` a SQL text uses, ignoring comments and string literals."""
    return set(_BIND.findall(_SQL_NOISE.sub(" ", sql)))


class _Strict(BaseModel):
    """Unknown keys are errors: a typo (``consents:``) must not silently change behaviour."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


ParamValue = str | int | float | bool | None


class ListFilter(_Strict):
    """Declarative selection; every given criterion must hold (AND), an empty list is refused."""

    entity_types: list[EntityType] | None = Field(
        default=None, min_length=1, description="contact, lead and/or account; default all"
    )
    marketing_list: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="crm_marketing_list.list_key"
    )
    languages: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2,8}$")]] | None = Field(
        default=None, min_length=1
    )
    countries: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] | None = Field(
        default=None, min_length=1
    )

    @field_validator("languages")
    @classmethod
    def _lower_languages(cls, value: list[str] | None) -> list[str] | None:
        # The CRM stores language codes lower-case; the SQL compares lower(language).
        return None if value is None else sorted({v.lower() for v in value})

    @field_validator("countries")
    @classmethod
    def _upper_countries(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted({v.upper() for v in value})

    @field_validator("entity_types")
    @classmethod
    def _unique_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [t for t in ENTITY_TYPES if t in value]


class Selection(_Strict):
    """Either ``sql: lists/<file>.sql`` (+ ``params``) or ``filter: {...}``, never both."""

    sql: str | None = Field(default=None, description="file under sql/, returning entity_id rows")
    params: dict[str, ParamValue] | None = Field(default=None, description="values of the file's :params")
    filter: ListFilter | None = None

    @field_validator("sql")
    @classmethod
    def _sql_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not _SELECTION_FILE.match(value) or ".." in PurePosixPath(value).parts:
            raise ValueError(
                "selection file must be written as 'lists/<name>.sql' (a file under sql/lists/), "
                f"got {value!r}"
            )
        root = Path((info.context or {}).get("sql_root", SQL_ROOT))
        if not (root / value).is_file():
            raise ValueError(f"selection file {value!r} does not exist under {root}")
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self, info: ValidationInfo) -> Selection:
        if (self.sql is None) == (self.filter is None):
            raise ValueError("give exactly one of 'sql' (a file under sql/lists/) or 'filter'")
        if self.filter is not None and self.params:
            raise ValueError("'params' only apply to an 'sql' selection")
        if self.sql is not None:
            root = Path((info.context or {}).get("sql_root", SQL_ROOT))
            used = bind_names((root / self.sql).read_text(encoding="utf-8"))
            given = set(self.params or {})
            if missing := sorted(used - given):
                raise ValueError(f"{self.sql} uses :{', :'.join(missing)} but 'params' does not give a value")
            if unused := sorted(given - used):
                raise ValueError(f"'params' {', '.join(unused)} are not used by {self.sql} (a typo?)")
            if reserved := sorted(p for p in used if p.startswith(RESERVED_PARAM_PREFIX)):
                raise ValueError(
                    f"{self.sql} uses reserved parameter names {reserved}; "
                    f"names starting with {RESERVED_PARAM_PREFIX!r} belong to the extraction query"
                )
        return self


class Guards(_Strict):
    """Checks that keep a broken extraction from emptying a platform list (``force`` overrides)."""

    min_rows: int = Field(default=1, ge=0, description="fewest recipients a snapshot may have")
    max_drop_ratio: float = Field(
        default=0.5, ge=0.0, le=1.0, description="largest allowed shrink vs the last synced run (0.5 = 50%)"
    )


class ListDefinition(_Strict):
    """One platform list fed from one CRM selection under exactly one consent."""

    name: str = Field(pattern=_SLUG, description="unique slug; names the mapped task and the asset")
    platform: str = Field(default="optimizely", pattern=_SLUG)
    platform_list_id: str = Field(pattern=_PLATFORM_ID)
    optin_process_id: str = Field(pattern=_PLATFORM_ID)
    consent: str = Field(description="exactly one consent id (crm_consent_type.consent_id)")
    description: str | None = Field(default=None, max_length=200, description="value of 'description'")
    media_type: str = Field(default="email", pattern=r"^[a-z]{1,20}$", description="value of 'media-type'")
    selection: Selection
    attributes: dict[Annotated[str, Field(pattern=_ATTRIBUTE_NAME)], CrmColumn] = Field(default_factory=dict)
    guards: Guards = Field(default_factory=Guards)

    @field_validator("consent", mode="before")
    @classmethod
    def _one_consent(cls, value: Any) -> Any:
        # The platform's practice is one selection <-> one consent; mixing consents in one list
        # would mail people under a consent they never gave. So anything but one id is refused.
        if value is None or value == "" or value == []:
            raise ValueError(
                "no consent given: every list needs exactly one consent id, e.g. 'consent: newsletter'"
            )
        if isinstance(value, (list, tuple, set, dict)):
            items = list(value)
            raise ValueError(
                f"exactly one consent id is required, got a {type(value).__name__} of {len(items)} "
                f"({', '.join(map(str, items))}); "
                "a list must never mix consents - define one list per consent"
            )
        if not isinstance(value, str) or not _CONSENT_ID.match(value):
            raise ValueError(
                f"consent must be a single consent id such as 'newsletter', got {value!r}; "
                "a list must never mix consents - define one list per consent"
            )
        return value

    @field_validator("attributes")
    @classmethod
    def _no_technical_names(cls, value: dict[str, str]) -> dict[str, str]:
        if clash := sorted(set(value) & set(TECHNICAL_ATTRIBUTES)):
            raise ValueError(
                f"{', '.join(clash)} are technical fields filled automatically; remove them from 'attributes'"
            )
        return value

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Platform attribute names in upload order: technical fields first, then ``attributes``."""
        return TECHNICAL_ATTRIBUTES + tuple(self.attributes)

    @property
    def description_value(self) -> str:
        """Value of the ``description`` technical field."""
        return self.description if self.description is not None else f"CRM list {self.name}"


class ListsConfig(_Strict):
    """The whole ``lists.yaml``: a non-empty sequence of list definitions."""

    lists: list[ListDefinition] = Field(min_length=1)

    @field_validator("lists")
    @classmethod
    def _unique(cls, value: list[ListDefinition]) -> list[ListDefinition]:
        # Raised with the index of the second occurrence so the loader can point at its line.
        names: dict[str, int] = {}
        targets: dict[tuple[str, str], int] = {}
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
            target = (item.platform, item.platform_list_id)
            if target in targets:
                other = value[targets[target]].name
                raise PydanticCustomError(
                    "duplicate_list",
                    "lists '{other}' and '{name}' both write platform list {platform}:{list_id}; "
                    "each clear + refill would wipe the other",
                    {
                        "other": other,
                        "name": item.name,
                        "platform": item.platform,
                        "list_id": item.platform_list_id,
                        "index": index,
                        "field": "platform_list_id",
                    },
                )
            targets[target] = index
        return value

    @property
    def names(self) -> list[str]:
        return [item.name for item in self.lists]

    def get(self, name: str) -> ListDefinition:
        """The list called ``name``; KeyError naming the known lists otherwise."""
        for item in self.lists:
            if item.name == name:
                return item
        raise KeyError(f"no list named {name!r}; known lists: {', '.join(self.names)}")

    def consent_by_platform_list_id(self, platform: str = "optimizely") -> dict[str, str]:
        """platform list id -> consent id, for attributing a platform's unsubscribes to a consent."""
        return {item.platform_list_id: item.consent for item in self.lists if item.platform == platform}
