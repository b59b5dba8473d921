"""Spotler's refusals mapped to exceptions that say what they mean and whether a retry can help.

Only ``SpotlerTransientError`` (429, 5xx, a dropped or timed-out connection) is retried; every
other 4xx is permanent. The sentences the user must act on (an audience in use, a missing
product) are part of the message, so the run report and the log can show them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from include.crm_sync.platforms.base import (
    MembersNotFound,
    PermanentPlatformError,
    PlatformError,
    TargetInUse,
    TransientPlatformError,
)

#: what the user must do before an audience in use can be deleted (Spotler's help centre)
IN_USE_ACTION = (
    "remove the scheduled mailing, the automailer, or the campaign/automation filter that uses "
    "this audience in Spotler first; the next run deletes it then"
)
#: the audience API exists only for accounts with one of these products
PRODUCT_SENTENCE = (
    "Spotler answered 403 PRODUCT_NOTFOUND: only accounts with the Automation or eCommerce product can "
    "use audiences; ask Spotler to enable one of them for this account"
)


class SpotlerError(PlatformError):
    """A call to Spotler failed; ``status``/``error_type`` are Spotler's answer where there was one."""

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class SpotlerTransientError(SpotlerError, TransientPlatformError):
    """429, 5xx or a connection problem: retried, and raised when the retries are used up."""


class SpotlerRequestRefused(SpotlerError, PermanentPlatformError):
    """A 4xx a retry cannot fix (invalid parameters, unknown resource, name not unique, ...)."""


class SpotlerCredentialsError(SpotlerRequestRefused):
    """401: the consumer key or secret is wrong (or the request's signature was refused)."""


class ProductNotFound(SpotlerRequestRefused):
    """403 PRODUCT_NOTFOUND: the account lacks the Automation/eCommerce product."""


class AudienceNotFound(SpotlerRequestRefused):
    """404 "Audience not found"."""


class AudienceInUse(SpotlerRequestRefused, TargetInUse):
    """417 on delete: the audience is a mailing's, automailer's or campaign/automation filter's target."""

    def __init__(self, external_id: str, detail: str | None = None) -> None:
        TargetInUse.__init__(self, external_id, IN_USE_ACTION)
        self.status, self.error_type = 417, None
        self.detail = detail


class ContactsNotFound(SpotlerRequestRefused, MembersNotFound):
    """404 "Contacts not found" on an add: ``member_ids`` are the unknown contacts; nothing was added."""

    def __init__(self, external_id: str, member_ids: Sequence[str]) -> None:
        MembersNotFound.__init__(self, external_id, member_ids)
        self.status, self.error_type = 404, "CONTACT_NOT_FOUND"
