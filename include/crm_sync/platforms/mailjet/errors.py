"""Mailjet's refusals and failures as exceptions that say whether a retry can help.

``MailjetRateLimited`` (429) is waited out by the client and never counted as a failure of the
data; ``MailjetTransientError`` (5xx, dropped or timed-out connection, a job still running past its
bound) is retried, then raised for the task to retry; every other 4xx is permanent.
"""

from __future__ import annotations

from include.crm_sync.platforms.base import PermanentPlatformError, PlatformError, TransientPlatformError


class MailjetError(PlatformError):
    """A call to Mailjet failed; ``status`` is Mailjet's HTTP status where there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MailjetTransientError(MailjetError, TransientPlatformError):
    """5xx or a connection problem: retried, and raised when the retries are used up."""


class MailjetRateLimited(MailjetTransientError):
    """429: too many requests for this API key; ``retry_after`` seconds when Mailjet said so."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class MailjetRequestRefused(MailjetError, PermanentPlatformError):
    """A 4xx a retry cannot fix (validation, unknown resource, duplicate name, ...)."""


class MailjetCredentialsError(MailjetRequestRefused):
    """401/403: the API key or the secret key is wrong."""


class MailjetNotFound(MailjetRequestRefused):
    """404: the list, contact or job does not exist."""


class JobFailed(MailjetError):
    """A bulk job ended in ``Error`` or ``Abort``: Mailjet applied none (or not all) of it. The sync's
    state stays ``in_progress``, so the next attempt reconciles the list with Mailjet."""

    def __init__(self, job_id: int, status: str, detail: str) -> None:
        super().__init__(f"Mailjet job {job_id} ended {status}: {detail}")
        self.job_id, self.job_status = job_id, status


class JobTimedOut(MailjetTransientError):
    """A bulk job did not finish within its bound; it may still complete later (the next attempt
    reconciles against what Mailjet then holds)."""

    def __init__(self, job_id: int, status: str, waited: float) -> None:
        super().__init__(f"Mailjet job {job_id} still {status} after {waited:.0f}s")
        self.job_id, self.job_status = job_id, status
