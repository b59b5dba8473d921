"""Which expectations a snapshot must meet, each with the plain words used in logs and audit.

Kept as plain data (the GX class name and its arguments) so that building the list imports
nothing heavy; ``gx_runner`` turns the specs into great-expectations objects only when it runs.
The columns refer to the query of ``sql/queries/validate_snapshot.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from include.crm_sync.validate.email_syntax import EMAIL_MAX_LENGTH, EMAIL_REGEX
from include.crm_sync.validate.report import GUARD, QUALITY


@dataclass(frozen=True)
class ExpectationSpec:
    key: str
    kind: str
    description: str
    gx_class: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: the examples are e-mail addresses and must be masked before they are logged or stored
    examples_are_emails: bool = False


def snapshot_expectations(
    *, optin_process_id: str, attribute_count: int, snapshot_rows: int, min_rows: int
) -> list[ExpectationSpec]:
    return [
        ExpectationSpec(
            "recipient_id_present",
            QUALITY,
            "every row has a recipient id",
            "ExpectColumnValuesToNotBeNull",
            {"column": "recipient_id"},
        ),
        ExpectationSpec(
            "email_present",
            QUALITY,
            "every row has an e-mail address",
            "ExpectColumnValuesToNotBeNull",
            {"column": "email"},
        ),
        ExpectationSpec(
            "entity_id_present",
            QUALITY,
            "every row carries the entity-id attribute",
            "ExpectColumnValuesToNotBeNull",
            {"column": "entity_id_attr"},
        ),
        ExpectationSpec(
            "optin_present",
            QUALITY,
            "every row carries the opt-in-id attribute",
            "ExpectColumnValuesToNotBeNull",
            {"column": "optin_attr"},
        ),
        ExpectationSpec(
            "attributes_complete",
            QUALITY,
            f"every row carries all {attribute_count} attribute values",
            "ExpectColumnValuesToBeInSet",
            {"column": "attr_count", "value_set": [attribute_count]},
        ),
        ExpectationSpec(
            "recipient_id_unique",
            QUALITY,
            "every recipient id appears only once",
            "ExpectColumnValuesToBeUnique",
            {"column": "recipient_id"},
        ),
        ExpectationSpec(
            "email_unique",
            QUALITY,
            "every e-mail address appears only once",
            "ExpectColumnValuesToBeUnique",
            {"column": "email"},
            examples_are_emails=True,
        ),
        ExpectationSpec(
            "email_syntax",
            QUALITY,
            "every e-mail address has valid syntax",
            "ExpectColumnValuesToMatchRegex",
            {"column": "email", "regex": EMAIL_REGEX},
            examples_are_emails=True,
        ),
        ExpectationSpec(
            "email_length",
            QUALITY,
            f"every e-mail address is at most {EMAIL_MAX_LENGTH} characters long",
            "ExpectColumnValueLengthsToBeBetween",
            {"column": "email", "max_value": EMAIL_MAX_LENGTH},
            examples_are_emails=True,
        ),
        ExpectationSpec(
            "entity_id_matches",
            QUALITY,
            "the entity-id attribute equals the recipient id",
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "recipient_id", "column_B": "entity_id_attr"},
        ),
        ExpectationSpec(
            "optin_configured",
            QUALITY,
            f"every row carries the configured opt-in id {optin_process_id}",
            "ExpectColumnValuesToBeInSet",
            {"column": "optin_attr", "value_set": [optin_process_id]},
        ),
        ExpectationSpec(
            "row_count_matches",
            QUALITY,
            f"the snapshot holds the {snapshot_rows:,} rows the extraction wrote",
            "ExpectTableRowCountToEqual",
            {"value": snapshot_rows},
        ),
        ExpectationSpec(
            "min_rows",
            GUARD,
            f"the list has at least {min_rows:,} recipient{'s' * (min_rows != 1)}",
            "ExpectTableRowCountToBeBetween",
            {"min_value": min_rows},
        ),
    ]
