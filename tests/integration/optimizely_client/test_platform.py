"""OptimizelyCampaignPlatform (the RecipientListPlatform protocol) and the client's read calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.crm_sync.platforms.base import (
    AddOutcome,
    FeedbackKind,
    FeedbackRow,
    RecipientListPlatform,
)
from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform
from tests.integration.optimizely_client.conftest import ATTRIBUTES, emulator_calls, recipient, recipients


@pytest.fixture
def platform(make_client):
    platform = OptimizelyCampaignPlatform(make_client())
    yield platform
    platform.close()


def test_implements_the_protocol(platform):
    assert isinstance(platform, RecipientListPlatform)
    assert platform.name == "optimizely" and platform.max_batch_size == 1000


def test_count_clear_add_batch_with_string_ids(optimizely_emulator, platform):
    results = platform.add_batch("1002", "0", ATTRIBUTES, [recipient(1), recipient(2)])
    assert [r.outcome for r in results] == [AddOutcome.ADDED, AddOutcome.ADDED]
    assert platform.count("1002") == 2
    report = platform.add_all("1002", "2001", ATTRIBUTES, recipients(5, start=10))
    assert report.accepted == 5 and platform.count("1002") == 7
    platform.clear("1002")
    assert platform.count("1002") == 0
    with pytest.raises(ValueError, match="list id must be numeric"):
        platform.count("newsletter")


def test_double_optin_adds_pending(optimizely_emulator, platform):
    platform.add_batch("1003", "2003", ATTRIBUTES, [recipient(1)])
    stored = optimizely_emulator.control.recipients(1003)["recipients"]
    assert stored[0]["pending"] is True and stored[0]["optin_process_id"] == 2003


def test_feedback_from_the_seed(optimizely_emulator, platform):
    until = platform.current_time()
    assert until.tzinfo is not None
    assert abs((until - datetime.now(UTC)).total_seconds()) < 3600
    since = until - timedelta(days=40)

    bounces = list(platform.fetch_feedback(FeedbackKind.BOUNCES, since, until))
    assert all(isinstance(row, FeedbackRow) and row.kind is FeedbackKind.BOUNCES for row in bounces)
    summary = sorted((r.recipient_id, r.category, r.list_id, r.mailing_id) for r in bounces)
    assert summary == [
        ("full.mailbox@example.net", "softbounce", "1002", "7002"),
        ("hard.bounce@example.org", "hardbounce", "1001", "7001"),
        ("hard.bounce@example.org", "hardbounce", "1002", "7002"),
        ("hard.bounce@example.org", "hardbounce", "1002", "7002"),
        ("hard.bounce@example.org", "overflow", "1002", None),
    ]  # the autoresponder response is not a bounce
    overflow = next(r for r in bounces if r.category == "overflow")
    assert overflow.raw[3:5] == ("3", "0")  # hard/soft counters kept in the raw row
    assert all(r.occurred_at.tzinfo is not None and since <= r.occurred_at <= until for r in bounces)

    unsubscribes = list(platform.fetch_feedback(FeedbackKind.UNSUBSCRIBES, since, until))
    summary = sorted((r.recipient_id, r.category, r.list_id, r.mailing_id) for r in unsubscribes)
    assert summary == [
        ("jan.unsub@example.nl", "unsubscribe", "1001", "7001"),
        ("lena.unsub@example.com", "unsubscribe", "1002", "7002"),
        ("petra.optout@example.de", "unsubscribe", "1002", None),
    ]  # each unsubscribe once, with its mailing where there is one


def test_feedback_pages_through_more_than_1000_rows(optimizely_emulator, platform):
    optimizely_emulator.control.add_feedback_events(
        [
            {
                "kind": "unsubscribe",
                "recipient_id": f"C{i:07d}",
                "email": f"user{i}@example.com",
                "list_id": 1001,
                "occurred_at": "-2h",
            }
            for i in range(2500)
        ]
    )
    until = platform.current_time()
    rows = list(platform.fetch_feedback(FeedbackKind.UNSUBSCRIBES, until - timedelta(hours=3), until))
    assert sorted(r.recipient_id for r in rows) == sorted(f"C{i:07d}" for i in range(2500))
    assert emulator_calls(optimizely_emulator, "ClosedLoop.getUnsubscribes") == 3  # 1000 + 1000 + 500
    assert emulator_calls(optimizely_emulator, "ClosedLoop.getMailingUnsubscribes") == 1


def test_feedback_window_is_validated(platform):
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        list(platform.fetch_feedback(FeedbackKind.BOUNCES, datetime(2026, 1, 1), now))
    with pytest.raises(ValueError, match="before since"):
        list(platform.fetch_feedback(FeedbackKind.BOUNCES, now, now - timedelta(days=1)))


def test_lists_optin_processes_and_blocklist(make_client):
    client = make_client()
    assert client.list_ids() == [1001, 1002, 1003]
    assert client.list_name(1003) == "Events & webinars"
    assert client.list_attribute_names(1001)[:5] == [
        "opt-in-id",
        "description",
        "media-type",
        "entity-type",
        "entity-id",
    ]
    assert client.optin_process_ids() == [2001, 2002, 2003]
    assert [client.optin_process_type(i) for i in (2001, 2002, 2003)] == ["single", "confirmed", "double"]
    assert client.optin_process_name(2003) == "Double opt-in"
    assert client.is_blocklisted("anyone@blocked.example") is True
    assert client.is_blocklisted("fine@example.com") is False
    assert client.contains(1001, "nobody") is False


def test_close_logs_out_and_client_is_a_context_manager(optimizely_emulator, make_client):
    with make_client() as client:
        client.count(1001)
        assert len(optimizely_emulator.control.state()["sessions"]) == 1
    assert optimizely_emulator.control.state()["sessions"] == []
    assert emulator_calls(optimizely_emulator, "Session.logout") == 1
    with pytest.raises(RuntimeError, match="closed"):
        client.count(1001)


def test_wsdls_are_loaded_once_per_webservice(optimizely_emulator, make_client):
    client = make_client()
    for _ in range(3):
        client.count(1001)
        client.list_ids()
    assert set(client._services) == {"Session", "Recipient", "RecipientList"}
