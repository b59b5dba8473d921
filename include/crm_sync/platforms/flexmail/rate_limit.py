"""A token bucket shared by every task and process of the deployment: Flexmail's limit (about 60
requests a minute) is per ACCOUNT, so two mapped tasks must not each spend 60 a minute.

The bucket is one row of ``flexmail_rate_bucket`` in the CRM staging database (SQLite or
PostgreSQL), taken by ONE conditional UPDATE: "refill for the time elapsed, and take a token if
there is one". A single UPDATE is atomic on both databases (PostgreSQL re-checks the WHERE clause
on the locked row; SQLite serialises writers), so concurrent takers never share a token. When no
token is there, the taker reads how long until one is and sleeps that long, then tries again.

Why the refill is ``(limit - burst) / 60`` per second: in any 60 s window at most ``burst`` (the
bucket's content at the start) plus 60 s of refill can be spent, which is then exactly ``limit``:
no window ever holds more than the account allows, however the takers interleave. ``clock`` and
``sleep`` are injectable so tests and the bench can run on an emulated clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from include.crm_sync.staging.tables import flexmail_rate_bucket as B

#: requests a minute the client allows itself by default: under the stated ~60, as margin for
#: requests that reach Flexmail in another order than they took their tokens
DEFAULT_REQUESTS_PER_MINUTE = 55


class TokenBucket:
    """``acquire()`` blocks until the account may send one more request."""

    def __init__(
        self,
        engine: sa.Engine,
        key: str,
        *,
        requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE,
        burst: int = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= burst < requests_per_minute:
            raise ValueError("burst must be at least 1 and below requests_per_minute")
        self.engine, self.key = engine, key
        self.capacity = float(burst)
        self.rate = (requests_per_minute - burst) / 60.0  # tokens per second
        self.requests_per_minute = requests_per_minute
        self._clock, self._sleep = clock, sleep
        self.waited_seconds = 0.0

    @property
    def seconds_per_request(self) -> float:
        """Long-run spacing of requests: what a backlog of N requests needs is N times this."""
        return 1.0 / self.rate

    def acquire(self) -> None:
        while True:
            now = self._clock()
            wait = self._try_take(now)
            if wait is None:
                return
            self.waited_seconds += wait
            self._sleep(wait)

    def _try_take(self, now: float) -> float | None:
        """Take a token at ``now``; None when taken, else the seconds until one is there."""
        elapsed = sa.case((B.c.updated_at < now, now - B.c.updated_at), else_=0.0)
        filled = B.c.tokens + elapsed * self.rate
        level = sa.case((filled > self.capacity, self.capacity), else_=filled)
        with self.engine.begin() as conn:
            self._ensure_row(conn, now)
            taken = conn.execute(
                sa.update(B)
                .where(B.c.bucket_key == self.key, level >= 1.0)
                .values(
                    tokens=level - 1.0,
                    updated_at=sa.case((B.c.updated_at < now, now), else_=B.c.updated_at),
                )
            ).rowcount
            if taken == 1:
                return None
            tokens, updated_at = conn.execute(
                sa.select(B.c.tokens, B.c.updated_at).where(B.c.bucket_key == self.key)
            ).one()
        current = min(self.capacity, tokens + max(0.0, now - updated_at) * self.rate)
        return max((1.0 - current) / self.rate, 1e-3)

    def _ensure_row(self, conn: sa.Connection, now: float) -> None:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(
            insert(B)
            .values(bucket_key=self.key, tokens=self.capacity, updated_at=now)
            .on_conflict_do_nothing(index_elements=[B.c.bucket_key])
        )
