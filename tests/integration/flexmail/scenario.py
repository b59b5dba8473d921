"""Building blocks of the Flexmail tests: the real client on the emulator with a shared token bucket
on the staging database, both on the emulator's clock."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from include.crm_sync.platforms.flexmail.client import FlexmailClient, RetryPolicy
from include.crm_sync.platforms.flexmail.rate_limit import TokenBucket

ACCOUNT, TOKEN = "4242", "pat-secret-token"
HONDEN, KATTEN, NIEUWSBRIEF = 101, 102, 103


def bucket(
    engine: sa.Engine, flexmail: Any, *, key: str = f"flexmail:{ACCOUNT}", rpm: int = 55
) -> TokenBucket:
    clock = flexmail.clock
    return TokenBucket(engine, key, requests_per_minute=rpm, clock=clock.now, sleep=clock.advance)


def make_client(engine: sa.Engine | None, flexmail: Any, **options: Any) -> FlexmailClient:
    clock = flexmail.clock
    limiter = options.pop("limiter", None)
    if limiter is None and engine is not None:
        limiter = bucket(engine, flexmail)
    options.setdefault("retry_policy", RetryPolicy(max_attempts=4, initial_wait=0.5, max_wait=120))
    return FlexmailClient(
        flexmail.base_url, ACCOUNT, TOKEN, limiter=limiter, sleep=clock.advance, timeout=10, **options
    )
