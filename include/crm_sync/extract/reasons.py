"""Why a selected entity is left out of a list's snapshot.

The values are the ``reason`` strings of ``sql/queries/extract_classify.sql`` (plus
``duplicate_address``, decided in ``extract_insert.sql``), in the order they are checked: an
entity is counted once, under the first reason that applies, so the counts add up.
"""

from __future__ import annotations

import enum


class ExclusionReason(enum.StrEnum):
    NO_CONSENT = "no_consent"
    UNSUBSCRIBED = "unsubscribed"
    ENTITY_BOUNCED = "entity_bounced"
    ADDRESS_BOUNCED = "address_bounced"
    FEEDBACK_HELD = "feedback_held"
    BLOCKLISTED = "blocklisted"
    MISSING_ADDRESS = "missing_address"
    INVALID_ADDRESS = "invalid_address"
    DUPLICATE_ADDRESS = "duplicate_address"

    @property
    def plain_words(self) -> str:
        return _PLAIN_WORDS[self]


_PLAIN_WORDS = {
    ExclusionReason.NO_CONSENT: "does not hold the list's consent",
    ExclusionReason.UNSUBSCRIBED: "unsubscribed (consent revoked, or an unsubscribe received for it)",
    ExclusionReason.ENTITY_BOUNCED: "marked bounced in the CRM",
    ExclusionReason.ADDRESS_BOUNCED: "address hard-bounced or over the soft-bounce limit",
    ExclusionReason.FEEDBACK_HELD: (
        "held: a bounce or unsubscribe naming them could not be applied; excluded until an operator "
        "resolves it (python -m include.crm_sync.feedback.holds)"
    ),
    ExclusionReason.BLOCKLISTED: "address on the blocklist",
    ExclusionReason.MISSING_ADDRESS: "no e-mail address",
    ExclusionReason.INVALID_ADDRESS: "e-mail address with invalid syntax",
    ExclusionReason.DUPLICATE_ADDRESS: "address already used by another entity of the list",
}
