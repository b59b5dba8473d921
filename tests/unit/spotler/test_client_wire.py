"""The Spotler client on the wire, against a scripted loopback server: what it sends (signature,
JSON, the removal's body) and how it reads each kind of answer (retry or not, which error)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from include.crm_sync.platforms.spotler.client import RetryPolicy, SpotlerClient
from include.crm_sync.platforms.spotler.errors import (
    IN_USE_ACTION,
    AudienceInUse,
    ContactsNotFound,
    ProductNotFound,
    SpotlerCredentialsError,
    SpotlerRequestRefused,
    SpotlerTransientError,
)
from tests.unit.spotler.wire_server import WireServer

FAST = RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.002, jitter=0.0)
SECRET = "s3cr3t-consumer-secret"


@pytest.fixture
def server():
    with WireServer() as s:
        yield s


@pytest.fixture
def client(server):
    with SpotlerClient(server.base_url, "key-1", SECRET, retry_policy=FAST, timeout=5) as c:
        yield c


def test_removal_sends_its_ids_as_the_delete_body_and_empty_sends_none(server, client):
    client.remove_members("aud-1", ["C1", "C2"])
    client.empty_audience("aud-1")
    removal, empty = server.received
    assert (removal.method, removal.path) == ("DELETE", "/integrationservice-1.1.0/audience/aud-1/contact")
    assert removal.json() == {"contacts": ["C1", "C2"]}
    assert removal.headers["Content-Type"] == "application/json"
    assert (empty.method, empty.path, empty.body) == (
        "DELETE",
        "/integrationservice-1.1.0/audience/aud-1/contact",
        b"",
    )


def test_a_removal_without_ids_is_refused_before_sending_because_it_would_empty(server, client):
    with pytest.raises(ValueError, match="no contact ids"):
        client.remove_members("aud-1", [])
    assert server.received == []


def test_every_request_is_oauth1_hmac_sha1_signed_without_token_or_secret(server, client):
    server.answer(200, {"externalId": "aud-1", "name": "A"}).answer(200, {"externalId": "aud-1", "name": "A"})
    client.get_audience("aud-1")
    client.get_audience("aud-1")
    first, second = (r.headers["Authorization"] for r in server.received)
    assert first.startswith("OAuth ") and 'oauth_signature_method="HMAC-SHA1"' in first
    assert 'oauth_consumer_key="key-1"' in first and "oauth_token=" not in first
    assert SECRET not in first
    nonce = re.search(r'oauth_nonce="([^"]+)"', first)
    assert nonce and nonce.group(1) not in second  # a fresh nonce per request


def test_batch_limits_are_checked_before_sending(server, client):
    client.add_members("a", [f"C{i}" for i in range(2500)])
    client.upsert_contacts([{"externalId": f"C{i}", "properties": {}} for i in range(100)])
    with pytest.raises(ValueError, match="2500"):
        client.add_members("a", [f"C{i}" for i in range(2501)])
    with pytest.raises(ValueError, match="100"):
        client.upsert_contacts([{"externalId": f"C{i}", "properties": {}} for i in range(101)])
    assert len(server.received) == 2
    assert len(server.received[0].json()["contacts"]) == 2500


def test_5xx_and_429_are_retried_then_succeed(server, client):
    server.answer(500, {"errorType": "BACKEND_EXCEPTION", "message": "x"}).answer(429).answer(
        200, {"externalId": "a", "name": "A"}
    )
    assert client.get_audience("a").name == "A"
    assert len(server.received) == 3
    assert client.calls["get_audience"] == 3


def test_retries_are_bounded(server, client):
    for _ in range(5):
        server.answer(503)
    with pytest.raises(SpotlerTransientError):
        client.empty_audience("a")
    assert len(server.received) == FAST.max_attempts


def test_audience_in_use_is_not_retried_and_says_what_to_do(server, client):
    server.answer(417, {"errorType": "INVALID_STATE", "message": "Cannot delete audience, as it's in use"})
    with pytest.raises(AudienceInUse) as caught:
        client.delete_audience("aud-1")
    assert len(server.received) == 1
    assert caught.value.action == IN_USE_ACTION
    assert "scheduled mailing" in str(caught.value) and "automailer" in str(caught.value)


def test_403_product_not_found_is_permanent_with_the_sentence(server, client):
    server.answer(403, {"errorType": "PRODUCT_NOTFOUND", "message": "Only Automation or eCommerce products"})
    with pytest.raises(ProductNotFound, match="Automation or eCommerce"):
        client.get_audience("a")
    assert len(server.received) == 1


def test_401_is_a_credentials_error_and_other_4xx_are_not_retried(server, client):
    server.answer(401, {"errorType": "NOT_AUTHORIZED", "message": "bad signature"})
    with pytest.raises(SpotlerCredentialsError, match="consumer key and secret"):
        client.empty_audience("a")
    server.answer(400, {"errorType": "INVALID_PARAMS", "message": "Path id doesn't match audience id"})
    with pytest.raises(SpotlerRequestRefused, match="Path id"):
        client.empty_audience("a")
    assert len(server.received) == 2


def test_unknown_contacts_on_add_name_the_ids(server, client):
    server.answer(
        404, {"errorType": "CONTACT_NOT_FOUND", "message": "Contacts not found", "externalContactIds": ["C2"]}
    )
    with pytest.raises(ContactsNotFound) as caught:
        client.add_members("a", ["C1", "C2"])
    assert caught.value.member_ids == ("C2",)


def test_error_messages_never_carry_a_full_address(server, client):
    server.answer(400, {"errorType": "INVALID_PARAMS", "message": "bad address jan.jansen@example.com"})
    with pytest.raises(SpotlerRequestRefused) as caught:
        client.empty_audience("a")
    assert "jan.jansen@example.com" not in str(caught.value)


def test_feeds_follow_the_cursor_until_the_last_page(server, client):
    contact = {
        "externalId": "C1",
        "properties": {"email": "a@example.com"},
        "channels": [{"name": "EMAIL", "value": False}],
        "lastChanged": "2026-12-07T01:00:00Z",
    }
    server.answer(200, {"contacts": [contact], "paging": {"after": "1", "next": "http://x/?after=1"}})
    server.answer(
        200, {"contacts": [{**contact, "externalId": "C2"}], "paging": {"after": None, "next": None}}
    )
    since, until = datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC)
    updates = list(client.updates(since, until, page_size=1))
    assert [(u.external_id, u.opted_out) for u in updates] == [("C1", True), ("C2", True)]
    first, second = server.received
    assert "fromDate=2026-12-07T00%3A00%3A00.000Z" in first.path and "after" not in first.path
    assert "after=1" in second.path
