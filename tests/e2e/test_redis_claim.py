"""Test sessions running at once claim different Redis databases for their Celery broker.

Against the real Redis server (skips without it, fails under CRM_SYNC_REQUIRE_E2E=1), with claim
keys of this test's own, so it never takes a database from a session that is running.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import DEFAULT_REDIS_URL, REDIS_DATABASES, claim_redis_database, unavailable


@pytest.fixture
def admin() -> Iterator:
    import redis

    server = os.environ.get("CRM_SYNC_TEST_REDIS_URL", DEFAULT_REDIS_URL).rstrip("/")
    client = redis.Redis.from_url(f"{server}/0", socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:
        client.close()
        unavailable(f"Redis not reachable at {server}: {exc}")
    yield client
    client.close()


def test_every_session_gets_a_database_of_its_own_until_none_is_left(admin):
    key = f"crm-sync-test-claim-{uuid.uuid4().hex}:db{{}}"
    try:
        claimed = [claim_redis_database(admin, f"session-{i}", key) for i in range(len(REDIS_DATABASES))]
        assert sorted(claimed) == list(REDIS_DATABASES)  # all different, all handed out
        assert claim_redis_database(admin, "one-too-many", key) is None
        assert admin.get(key.format(claimed[3])) == b"session-3"
        assert 0 < admin.ttl(key.format(claimed[3])) <= 3 * 3600  # a killed session's claim runs out

        admin.delete(key.format(claimed[3]))  # a session ends: its database is free again
        assert claim_redis_database(admin, "next", key) == claimed[3]
    finally:
        admin.delete(*(key.format(db) for db in REDIS_DATABASES))
