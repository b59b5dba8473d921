"""When and how often a failed platform call is tried again (tenacity).

Only ``TransientPlatformError`` is retried: HTTP 5xx/408/429 without a fault, timeouts, refused or
dropped connections, unreadable responses, unexpected server exceptions and "Too many concurrent
requests". Permanent errors - bad credentials, unknown list, batch too large, invalid data, a
refused schema location - are raised on the first occurrence. An expired session is not handled
here but one level down (``session.SessionManager``: log in again, repeat the call once).

Waits grow exponentially with random jitter (``wait_exponential_jitter``) so that the parallel
batch workers do not hammer a recovering server in lock-step; attempts are bounded. Tests pass a
policy with tiny waits (``RetryPolicy(initial_wait=0.001, max_wait=0.01)``); no real sleeping is
needed to exercise the retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from include.crm_sync.platforms.base import TransientPlatformError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient failures.

    :param max_attempts: total tries of one call, the first included
    :param initial_wait: seconds before the first retry (doubles each time, before jitter)
    :param max_wait: ceiling of one wait
    :param jitter: up to this many seconds of random extra wait
    :param max_total_seconds: give up once this much time has passed since the first try
    """

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    jitter: float = 1.0
    max_total_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if min(self.initial_wait, self.max_wait, self.jitter, self.max_total_seconds) < 0:
            raise ValueError("waits must be >= 0")

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        return cls(max_attempts=1)

    def retrying(self, description: str, *, sleep: Callable[[float], None] | None = None) -> Retrying:
        """A tenacity ``Retrying`` for one call; ``description`` names it in the log (no secrets)."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s failed (attempt %d of %d), retrying in %.2fs: %s",
                description,
                state.attempt_number,
                self.max_attempts,
                state.next_action.sleep if state.next_action else 0.0,
                exc,
            )

        kwargs = {}
        if sleep is not None:
            kwargs["sleep"] = sleep
        return Retrying(
            retry=retry_if_exception_type(TransientPlatformError),
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_total_seconds),
            wait=wait_exponential_jitter(multiplier=self.initial_wait, max=self.max_wait, jitter=self.jitter),
            before_sleep=before_sleep,
            reraise=True,
            **kwargs,
        )

    def call(self, description: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` under this policy; the last error is re-raised unchanged when attempts run out."""
        return self.retrying(description)(fn)
