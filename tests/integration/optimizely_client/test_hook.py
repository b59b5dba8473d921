"""OptimizelyCampaignHook with a real Airflow connection (AIRFLOW_CONN_* env var, JSON form)."""

from __future__ import annotations

import json
import logging

import pytest
from crm_sync_airflow.hooks.optimizely_campaign import OptimizelyCampaignHook

from include.crm_sync.platforms.base import AddOutcome
from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform
from include.emulators.optimizely.runner import EmulatorServer
from tests.integration.optimizely_client.conftest import ATTRIBUTES, FAST_RETRY, recipients

PASSWORD = "S3cure-Hook-Passw0rd-4711"
ENV = "AIRFLOW_CONN_OPTIMIZELY_CAMPAIGN_DEFAULT"


@pytest.fixture(scope="module")
def emulator():
    with EmulatorServer(port=0, mandator_id=4711, user="api-user", password=PASSWORD) as server:
        yield server


def set_connection(monkeypatch, emulator, **changes):
    document = {
        "conn_type": "optimizely_campaign",
        "host": f"{emulator.base_url}/soap11",
        "login": "api-user",
        "password": PASSWORD,
        "extra": {"mandator_id": 4711, "batch_size": 500, "timeout": 20, "max_parallel_calls": 2},
    }
    document.update(changes)
    monkeypatch.setenv(ENV, json.dumps(document))


def test_test_connection_with_good_credentials(emulator, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, emulator)
    ok, message = OptimizelyCampaignHook().test_connection()
    assert ok, message
    assert "api-user" in message and "4711" in message
    assert emulator.control.state()["sessions"] == []  # logged out again
    assert PASSWORD not in caplog.text + message


def test_test_connection_with_bad_credentials(emulator, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-Hook-Passw0rd-0815"
    set_connection(monkeypatch, emulator, password=wrong)
    calls_before = emulator.control.state()["calls"].get("Session.login", 0)
    ok, message = OptimizelyCampaignHook().test_connection()
    assert not ok
    assert "Invalid credentials" in message
    assert emulator.control.state()["calls"]["Session.login"] == calls_before + 1  # not retried
    assert wrong not in caplog.text + message and PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"extra": {}}, "extra 'mandator_id' is required"),
        ({"extra": {"mandator_id": "abc"}}, "extra 'mandator_id' must be an integer"),
        ({"extra": {"mandator_id": 1, "batch_size": 5000}}, "extra 'batch_size' must be between 1 and 1000"),
        (
            {"extra": {"mandator_id": 1, "max_parallel_calls": 0}},
            "extra 'max_parallel_calls' must be between",
        ),
        ({"extra": {"mandator_id": 1, "timeout": "soon"}}, "extra 'timeout' must be a number"),
        ({"extra": {"mandator_id": 1, "bacth_size": 10}}, "unknown key(s) ['bacth_size']"),
        ({"host": ""}, "host (SOAP base URL) is required"),
        ({"login": ""}, "login (webservice user) is required"),
        ({"password": ""}, "password is required"),
    ],
)
def test_bad_connection_fields_are_named(emulator, monkeypatch, changes, expected):
    set_connection(monkeypatch, emulator, **changes)
    ok, message = OptimizelyCampaignHook().test_connection()
    assert not ok
    assert "'optimizely_campaign_default'" in message and expected in message
    assert PASSWORD not in message


def test_get_conn_is_cached_and_configured_from_the_connection(emulator, monkeypatch):
    set_connection(monkeypatch, emulator)
    with OptimizelyCampaignHook(retry_policy=FAST_RETRY) as hook:
        client = hook.get_conn()
        assert isinstance(client, OptimizelyCampaignClient) and hook.get_conn() is client
        assert (client.batch_size, client.max_parallel_calls, client.mandator_id) == (500, 2, 4711)
        platform = hook.get_platform()
        assert isinstance(platform, OptimizelyCampaignPlatform)
        report = platform.add_all("1001", "0", ATTRIBUTES, recipients(1200))
        assert report.batches == 3 and report.counts == {AddOutcome.ADDED: 1200}
        assert platform.count("1001") == 1200
        platform.close()  # logs out; the hook's client can log in again
        assert platform.count("1001") == 1200
    assert emulator.control.state()["sessions"] == []


def test_bare_host_name_means_https_soap11(emulator, monkeypatch):
    set_connection(monkeypatch, emulator, host="api.campaign.episerver.net")
    settings = OptimizelyCampaignHook().connection_settings()
    assert settings.base_url == "https://api.campaign.episerver.net/soap11"
    assert PASSWORD not in repr(settings)


def test_hook_metadata():
    assert OptimizelyCampaignHook.conn_type == "optimizely_campaign"
    assert OptimizelyCampaignHook.default_conn_name == "optimizely_campaign_default"
    assert OptimizelyCampaignHook.conn_name_attr == "optimizely_campaign_conn_id"
    behaviour = OptimizelyCampaignHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["host"] == "SOAP base URL"
    assert {"schema", "port"} <= set(behaviour["hidden_fields"])
    assert isinstance(OptimizelyCampaignHook.get_connection_form_widgets(), dict)
