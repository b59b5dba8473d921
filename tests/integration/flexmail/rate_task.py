"""One "mapped task" in its own process for the shared-rate-limit test: N requests through a client
whose token bucket lives in the staging database, on the emulator's clock read and moved over
``/_control`` (a separate process cannot share the in-process clock object).

    python -m tests.integration.flexmail.rate_task STAGING_URL BASE_URL BUCKET_KEY N
"""

from __future__ import annotations

import sys

from include.crm_sync.platforms.flexmail.client import FlexmailClient, RetryPolicy
from include.crm_sync.platforms.flexmail.rate_limit import TokenBucket
from include.crm_sync.staging.engine import create_staging_engine
from include.emulators.flexmail.control import FlexmailControlClient
from tests.integration.flexmail.scenario import ACCOUNT, TOKEN


def main(staging_url: str, base_url: str, key: str, n: int) -> int:
    control = FlexmailControlClient(base_url)

    def now() -> float:
        return control.clock()["epoch_ms"] / 1000.0

    def sleep(seconds: float) -> None:
        control.advance_clock(seconds)

    engine = create_staging_engine(staging_url)
    bucket = TokenBucket(engine, key, requests_per_minute=55, clock=now, sleep=sleep)
    client = FlexmailClient(
        base_url, ACCOUNT, TOKEN, limiter=bucket, sleep=sleep, retry_policy=RetryPolicy(max_attempts=4)
    )
    for _ in range(n):
        client.find_contact("an.peeters@example.com")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
