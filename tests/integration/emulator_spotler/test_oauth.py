"""Every API request must carry a valid two-legged OAuth 1.0a signature (HMAC-SHA1): a wrong
secret, an unknown key, a replayed nonce, a stale timestamp, another signature method, a URL
changed after signing and a missing header are all refused with 401 NOT_AUTHORIZED, and change
nothing."""

from __future__ import annotations

import time

import requests
from requests_oauthlib import OAuth1

from tests.integration.emulator_spotler.conftest import KEY, SECRET, Api


def _assert_refused(response: requests.Response, because: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.json()["errorType"] == "NOT_AUTHORIZED"
    assert because in response.json()["message"]


def test_a_correctly_signed_request_passes(api):
    assert api.create_audience("a1").status_code == 200
    assert api.get("/audience/a1", params={"x": "query is signed too"}).status_code == 200


def test_wrong_secret_unknown_key_and_missing_header_are_refused(spotler, api):
    _assert_refused(Api(spotler.api_url, KEY, "wrong-secret").create_audience("a1"), "Invalid signature")
    _assert_refused(
        Api(spotler.api_url, "someone-else", SECRET).create_audience("a1"), "Unknown consumer key"
    )
    _assert_refused(
        requests.post(f"{spotler.api_url}/audience", json={"externalId": "a1", "name": "A"}, timeout=10),
        "header missing",
    )
    assert spotler.control.state()["audiences"] == []


def test_a_replayed_nonce_is_refused(spotler):
    auth = OAuth1(KEY, SECRET, nonce="fixed-nonce-0123456789")
    first = requests.get(f"{spotler.api_url}/contact/properties/list", auth=auth, timeout=10)
    assert first.status_code == 200
    _assert_refused(
        requests.get(f"{spotler.api_url}/contact/properties/list", auth=auth, timeout=10), "replayed"
    )


def test_a_timestamp_outside_the_window_is_refused(spotler):
    stale = str(int(time.time()) - 3600)
    _assert_refused(
        requests.get(
            f"{spotler.api_url}/contact/properties/list",
            auth=OAuth1(KEY, SECRET, timestamp=stale),
            timeout=10,
        ),
        "oauth_timestamp",
    )


def test_other_signature_methods_are_refused(spotler):
    auth = OAuth1(KEY, SECRET, signature_method="HMAC-SHA256")
    _assert_refused(
        requests.get(f"{spotler.api_url}/contact/properties/list", auth=auth, timeout=10), "HMAC-SHA1"
    )


def test_a_url_changed_after_signing_is_refused(spotler):
    session = requests.Session()
    prepared = session.prepare_request(
        requests.Request("GET", f"{spotler.api_url}/audience/a1", auth=OAuth1(KEY, SECRET))
    )
    prepared.url = f"{spotler.api_url}/audience/a2"
    _assert_refused(session.send(prepared, timeout=10), "Invalid signature")
