"""SpotlerHook with a real Airflow connection (AIRFLOW_CONN_* env var, JSON form) on the emulator."""

from __future__ import annotations

import json
import logging

import pytest
from crm_sync_airflow.hooks.spotler import SpotlerConnectionError, SpotlerHook, parse_connection

from include.crm_sync.platforms.base import MembershipPlatform, MembershipTarget
from include.emulators.spotler.runner import SpotlerEmulatorServer
from tests.integration.spotler.scenario import FAST, KEY, SECRET

ENV = "AIRFLOW_CONN_SPOTLER_DEFAULT"


def set_connection(monkeypatch, server, **changes):
    document = {
        "conn_type": "spotler",
        "host": server.api_url,
        "login": KEY,
        "password": SECRET,
        "extra": {"timeout": 20, "max_attempts": 3},
    }
    document.update(changes)
    monkeypatch.setenv(ENV, json.dumps(document))


def test_test_connection_with_good_credentials_never_shows_the_secret(spotler, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, spotler)
    ok, message = SpotlerHook(retry_policy=FAST).test_connection()
    assert ok, message
    assert KEY in message and SECRET not in message + caplog.text


def test_test_connection_with_a_wrong_secret(spotler, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, spotler, password="wrong-secret-0815")
    ok, message = SpotlerHook(retry_policy=FAST).test_connection()
    assert not ok and "consumer key and secret" in message
    assert "wrong-secret-0815" not in message + caplog.text


def test_test_connection_without_the_automation_product(monkeypatch):
    with SpotlerEmulatorServer(
        port=0, consumer_key=KEY, consumer_secret=SECRET, automation_product=False
    ) as s:
        set_connection(monkeypatch, s)
        ok, message = SpotlerHook(retry_policy=FAST).test_connection()
    assert not ok and "Automation or eCommerce" in message


def test_the_hook_gives_a_membership_platform_on_a_cached_client(spotler, monkeypatch):
    set_connection(monkeypatch, spotler)
    with SpotlerHook(retry_policy=FAST) as hook:
        assert hook.get_conn() is hook.get_conn()
        platform = hook.get_platform()
        assert isinstance(platform, MembershipPlatform)
        platform.ensure_target(MembershipTarget("hook-aud", "Hook audience"))
    assert spotler.control.audience("hook-aud")["name"] == "Hook audience"


@pytest.mark.parametrize(
    ("host", "login", "password", "extra", "problem"),
    [
        (None, "k", "s", {}, "host (base URL) is required"),
        ("ftp://x", "k", "s", {}, "must be an http(s) URL"),
        ("https://u:p@x/", "k", "s", {}, "must not contain credentials"),
        ("https://x/", None, "s", {}, "login (consumer key) is required"),
        ("https://x/", "k", None, {}, "password (consumer secret) is required"),
        ("https://x/", "k", "s", {"max_attempts": 0}, "extra 'max_attempts'"),
        ("https://x/", "k", "s", {"batch": 1}, "extra 'batch'"),
    ],
)
def test_connection_errors_name_the_field(host, login, password, extra, problem):
    with pytest.raises(SpotlerConnectionError, match="spotler_default") as caught:
        parse_connection("spotler_default", host, None, login, password, extra)
    assert problem in str(caught.value)


def test_a_bare_host_gets_the_versioned_path_and_the_secret_is_not_in_repr():
    settings = parse_connection("c", "restapi.mailplus.nl", None, "key", "very-secret", {})
    assert settings.base_url == "https://restapi.mailplus.nl/integrationservice-1.1.0/"
    assert "very-secret" not in repr(settings)
