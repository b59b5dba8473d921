"""Flexmail's answers mapped to exceptions that say whether a retry can help.

``FlexmailTransientError`` (429, 5xx, a dropped or timed-out connection) is retried, honouring
``Retry-After``; every other 4xx is permanent.
"""

from __future__ import annotations

from include.crm_sync.platforms.base import PermanentPlatformError, PlatformError, TransientPlatformError


class FlexmailError(PlatformError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FlexmailTransientError(FlexmailError, TransientPlatformError):
    """429 (``retry_after`` seconds when Flexmail said), 5xx, or no answer."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class FlexmailCredentialsError(FlexmailError, PermanentPlatformError):
    """401/403: the account id or the personal access token is wrong (never retried)."""


class FlexmailRequestRefused(FlexmailError, PermanentPlatformError):
    """Any other 4xx."""


class FlexmailNotFound(FlexmailRequestRefused):
    """404."""


class FlexmailConflict(FlexmailRequestRefused):
    """409 (a label already assigned, an import id already used)."""
