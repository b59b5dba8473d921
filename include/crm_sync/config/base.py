"""The interface every platform's list block offers; the rest of the code uses only this.

A list definition says which CRM entities form a platform list (``selection``), under which one
consent they may be mailed (``consent``), which attributes travel with each recipient and which
guards protect the platform list from a broken extraction. Each platform subclasses
``ListDefinition`` with its own target fields (``optimizely.py``, ``spotler.py``); ``registry.py``
turns the subclasses into the discriminated union ``lists.yaml`` is validated with.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import Field, field_validator

from include.crm_sync.config.common import ATTRIBUTE_NAME, SLUG, CrmColumn, Strict
from include.crm_sync.config.guards import Guards
from include.crm_sync.config.selection import Selection

_CONSENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class UniqueKey(NamedTuple):
    """A value no two lists of one platform may share, and the field that holds it."""

    field: str  #: dotted path inside the list block, e.g. ``audience.name``
    value: str
    clash: str  #: completes "lists 'a' and 'b' both ..."


class ListDefinition(Strict):
    """One platform list fed from one CRM selection under exactly one consent.

    Subclasses add their platform's target fields and must provide ``platform_list_id`` (the
    canonical id of the platform list). Values only some platforms have are given neutral defaults
    here so platform-blind callers keep working for every platform:

    * ``optin_process_id`` -- ``""`` (only Optimizely adds recipients under an opt-in process)
    * ``description_value`` -- ``"CRM list <name>"``
    * ``media_type`` -- ``"email"``
    """

    #: dotted path of the field holding the platform list id, for error messages
    LIST_ID_FIELD: ClassVar[str] = "platform_list_id"
    #: why ``delete: true`` is refused for this platform's lists; empty where the sync can delete
    #: the platform list (``delete_removed_lists``: the membership platforms with ``delete_target``)
    DELETE_REFUSAL: ClassVar[str] = (
        "this platform's lists cannot be deleted by the sync; remove 'delete' (and delete the list "
        "on the platform yourself if it must go)"
    )

    name: str = Field(pattern=SLUG, description="unique slug; names the mapped task and the asset")
    platform: str
    consent: str = Field(description="exactly one consent id (crm_consent_type.consent_id)")
    selection: Selection
    attributes: dict[Annotated[str, Field(pattern=ATTRIBUTE_NAME)], CrmColumn] = Field(default_factory=dict)
    guards: Guards = Field(default_factory=Guards)
    delete: bool = Field(
        default=False,
        description="delete the platform list: the list is no longer extracted or synced",
    )

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

    @field_validator("delete")
    @classmethod
    def _deletable(cls, value: bool) -> bool:
        # A platform whose list the sync cannot delete refuses the flag here, at load: accepting it
        # would leave the platform list in place while the operator believes it gone.
        if value and cls.DELETE_REFUSAL:
            raise ValueError(cls.DELETE_REFUSAL)
        return value

    @classmethod
    def canonical_list_id(cls, raw: Any) -> str:
        """This platform's canonical form of a list id; ValueError with a plain sentence if invalid."""
        raise NotImplementedError

    @property
    def platform_list_id(self) -> str:
        """The platform list's canonical id: the key of its lock, its guard baseline and its asset."""
        raise NotImplementedError

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Platform attribute names in upload order."""
        return tuple(self.attributes)

    @property
    def optin_process_id(self) -> str:
        """Opt-in process recipients are added under; neutral ``""`` where the platform has none."""
        return ""

    @property
    def description_value(self) -> str:
        """A human description of the list on the platform."""
        return f"CRM list {self.name}"

    @property
    def media_type(self) -> str:
        """Channel of the list; every platform served today mails."""
        return "email"

    #: the platform keeps ONE contact per person for the whole account, with its fields: two lists
    #: filling the same field from different CRM columns would overwrite each other every night
    ACCOUNT_WIDE_CONTACT_FIELDS: ClassVar[bool] = False

    def unique_keys(self) -> tuple[UniqueKey, ...]:
        """Values no other list of the same platform may hold (compared in canonical form)."""
        target = f"{self.platform}:{self.platform_list_id}"
        return (
            UniqueKey(
                self.LIST_ID_FIELD,
                self.platform_list_id,
                f"write platform list {target}; each sync would undo the other's",
            ),
        )
