"""Vocabulary shared by every platform's list block: the strict base model and the CRM columns.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

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

SLUG = r"^[a-z][a-z0-9_]{0,62}$"
ATTRIBUTE_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,99}$"


class Strict(BaseModel):
    """Unknown keys are errors: a typo (``consents:``) must not silently change behaviour."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
