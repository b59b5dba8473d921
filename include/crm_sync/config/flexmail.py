"""The Flexmail list block: one interest label of the account, kept equal to the list's selection.

    platform: flexmail
    interest_label: "Honden"             # exactly as named in the Flexmail account
    consent: pets                        # exactly one consent
    attributes: {first_name: first_name, name: last_name, language: language}

The name is compared with the account's labels EXACTLY (case, spaces, accents): Flexmail assigns
labels by name on import, and a near miss would silently label nobody. So it is kept as written
(no trimming, no case folding); the sync reads the account's labels first and fails a list whose
name does not match, naming the closest existing label. Attribute names ``first_name``, ``name``
and ``language`` fill those contact fields; any other name fills a custom field.

This module imports pydantic and the standard library only: it runs at DAG parse time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from include.crm_sync.config.base import ListDefinition

MAX_LABEL_NAME = 255


def flexmail_label_name(raw: Any) -> str:
    """The canonical id of a Flexmail list: the interest label's name, exactly as written."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"an interest label name is required (a non-empty string), got {raw!r}")
    if len(raw) > MAX_LABEL_NAME:
        raise ValueError(f"an interest label name has at most {MAX_LABEL_NAME} characters")
    return raw


class FlexmailList(ListDefinition):
    """A list synced into a Flexmail interest label (added by import, removed per contact)."""

    ACCOUNT_WIDE_CONTACT_FIELDS = True
    LIST_ID_FIELD = "interest_label"
    DELETE_REFUSAL = (
        "a Flexmail interest label is not deleted by the sync (the platform layer has no label "
        "delete); remove 'delete', and remove the list from lists.yaml to stop syncing it"
    )

    platform: Literal["flexmail"]
    interest_label: str = Field(description="the interest label's name, exactly as in the Flexmail account")

    @field_validator("interest_label", mode="before")
    @classmethod
    def _label(cls, value: Any) -> str:
        return flexmail_label_name(value)

    @classmethod
    def canonical_list_id(cls, raw: Any) -> str:
        return flexmail_label_name(raw)

    @property
    def platform_list_id(self) -> str:
        return self.interest_label
