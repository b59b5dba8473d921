"""FlexmailHook with a real Airflow connection (AIRFLOW_CONN_* env var, JSON form) on the emulator."""

from __future__ import annotations

import json
import logging

import pytest
from crm_sync_airflow.hooks.flexmail import FlexmailConnectionError, FlexmailHook, parse_connection

from include.crm_sync.platforms.flexmail.client import RetryPolicy
from include.crm_sync.platforms.flexmail.rate_limit import TokenBucket
from tests.integration.flexmail.scenario import ACCOUNT, TOKEN

ENV = "AIRFLOW_CONN_FLEXMAIL_DEFAULT"
FAST = RetryPolicy(max_attempts=2, initial_wait=0.001, max_wait=0.002)


def set_connection(monkeypatch, server, **changes):
    document = {
        "conn_type": "flexmail",
        "host": server.base_url,
        "login": ACCOUNT,
        "password": TOKEN,
        "extra": {"timeout": 20, "requests_per_minute": 30},
    }
    document.update(changes)
    monkeypatch.setenv(ENV, json.dumps(document))


def test_test_connection_never_shows_the_token(flexmail, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, flexmail)
    ok, message = FlexmailHook(retry_policy=FAST).test_connection()
    assert ok and "3 interest labels" in message and ACCOUNT in message
    assert TOKEN not in message + caplog.text


def test_test_connection_with_a_wrong_token(flexmail, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, flexmail, password="wrong-token-0815")
    ok, message = FlexmailHook(retry_policy=FAST).test_connection()
    assert not ok and "403" in message and "personal access token" in message
    assert "wrong-token-0815" not in message + caplog.text


def test_get_conn_is_cached_and_takes_the_shared_bucket(flexmail, monkeypatch, sqlite_engine):
    set_connection(monkeypatch, flexmail)
    with FlexmailHook(retry_policy=FAST) as hook:
        client = hook.get_conn(sqlite_engine)
        assert client is hook.get_conn()
        assert isinstance(client.limiter, TokenBucket)
        assert client.limiter.key == f"flexmail:{ACCOUNT}" and client.limiter.requests_per_minute == 30
        assert [label.name for label in client.interest_labels()] == ["Honden", "Katten", "Nieuwsbrief"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"host": ""}, "host (base URL) is required"),
        ({"login": "abc"}, "numeric Flexmail account id"),
        ({"password": ""}, "personal access token"),
        ({"extra": {"nope": 1}}, "extra 'nope'"),
        ({"host": "https://u:p@api.flexmail.eu"}, "must not contain credentials"),
    ],
)
def test_bad_connections_name_the_field(fields, problem):
    values = {"host": "https://api.flexmail.eu", "login": "12", "password": "t", "extra": {}} | fields
    with pytest.raises(FlexmailConnectionError, match="connection 'flexmail_default'") as caught:
        parse_connection(
            "flexmail_default", values["host"], None, values["login"], values["password"], values["extra"]
        )
    assert problem in str(caught.value)


def test_a_bare_host_means_https():
    settings = parse_connection("c", "api.flexmail.eu", None, "12", "pat-xyz-123", {})
    assert settings.base_url == "https://api.flexmail.eu" and "pat-xyz-123" not in repr(settings)
