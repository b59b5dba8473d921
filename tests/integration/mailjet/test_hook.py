"""MailjetHook with a real Airflow connection (AIRFLOW_CONN_* env var, JSON form) on the emulator."""

from __future__ import annotations

import json
import logging
import re

import pytest
from crm_sync_airflow.hooks.mailjet import MailjetConnectionError, MailjetHook, parse_connection

from include.crm_sync.platforms.base import MembershipPlatform, MembershipTarget
from include.crm_sync.platforms.mailjet import RetryPolicy
from tests.integration.mailjet.conftest import KEY, SECRET

ENV = "AIRFLOW_CONN_MAILJET_DEFAULT"
FAST = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02, rate_limit_budget=0.1)


def set_connection(monkeypatch, server, **changes):
    document = {
        "conn_type": "mailjet",
        "host": server.api_url,
        "login": KEY,
        "password": SECRET,
        "extra": {"timeout": 20, "job_poll_interval": 0.05, "job_max_wait": 5},
    }
    document.update(changes)
    monkeypatch.setenv(ENV, json.dumps(document))


def test_test_connection_with_good_keys_never_shows_the_secret(mailjet, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, mailjet)
    ok, message = MailjetHook(retry_policy=FAST).test_connection()
    assert ok, message
    assert KEY in message and SECRET not in message + caplog.text


@pytest.mark.parametrize("field", ["login", "password"])
def test_test_connection_proves_both_keys(mailjet, monkeypatch, caplog, field):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, mailjet, **{field: "wrong-value-0815"})
    ok, message = MailjetHook(retry_policy=FAST).test_connection()
    assert not ok and "API key and secret key" in message
    assert "wrong-value-0815" not in message + caplog.text


def test_test_connection_reports_an_unreachable_server(monkeypatch):
    monkeypatch.setenv(
        ENV,
        json.dumps({"conn_type": "mailjet", "host": "http://127.0.0.1:9/", "login": "k", "password": "s"}),
    )
    ok, message = MailjetHook(retry_policy=FAST).test_connection()
    assert not ok and message.startswith("Mailjet refused the connection test")


def test_the_platform_from_the_hook_syncs(mailjet, monkeypatch):
    set_connection(monkeypatch, mailjet)
    with MailjetHook(retry_policy=FAST) as hook:
        platform = hook.get_platform(lists=["CRM newsletter"])
        assert isinstance(platform, MembershipPlatform)
        platform.ensure_target(MembershipTarget("CRM newsletter", "CRM newsletter"))
        platform.upsert((), [])
        assert platform.member_count("CRM newsletter") == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"host": ""}, "host (API base URL) is required"),
        ({"login": ""}, "login (API key) is required"),
        ({"password": None}, "password (secret key) is required"),
        ({"extra": {"max_attempts": 0}}, "extra 'max_attempts'"),
        ({"extra": {"unknown": 1}}, "extra 'unknown'"),
    ],
)
def test_bad_connections_name_the_field(changes, message):
    fields = {"host": "https://api.mailjet.com/", "login": "k", "password": "s", "extra": {}}
    fields.update(changes)
    with pytest.raises(MailjetConnectionError, match=re.escape(message)):
        parse_connection(
            "mailjet_default", fields["host"], None, fields["login"], fields["password"], fields["extra"]
        )


def test_a_bare_host_means_https():
    settings = parse_connection("mailjet_default", "api.mailjet.com", None, "k", "top-secret", {})
    assert settings.base_url == "https://api.mailjet.com/" and "top-secret" not in repr(settings)
