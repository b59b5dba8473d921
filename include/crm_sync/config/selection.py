"""Who belongs to a list: a SQL file under ``sql/lists/`` (with its params) or a declarative filter.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator

from include.crm_sync.config.common import ENTITY_TYPES, EntityType, Strict
from include.crm_sync.config.paths import SQL_ROOT

#: bind-parameter prefix the extraction queries use for themselves; selection params may not use it
RESERVED_PARAM_PREFIX = "sys_"

_SELECTION_FILE = re.compile(r"^lists/[A-Za-z0-9_][A-Za-z0-9_/-]*\.sql$")
# Same rule as SQLAlchemy's text(): ``:name`` not preceded by a word char, colon or backslash
# (so PostgreSQL ``::casts`` and ``\:`` escapes are not taken for parameters).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_SQL_NOISE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.S)


def bind_names(sql: str) -> set[str]:
    """Names of the ``:params`` a SQL text uses, ignoring comments and string literals."""
    return set(_BIND.findall(_SQL_NOISE.sub(" ", sql)))


ParamValue = str | int | float | bool | None


class ListFilter(Strict):
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


class Selection(Strict):
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
