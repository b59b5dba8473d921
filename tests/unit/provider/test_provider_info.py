"""The project registers as an Airflow provider: Airflow's ProvidersManager (what the UI's connection
form is built from) lists its connection types with their hooks and custom fields, and the same
pydantic models parse the connections' extras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from crm_sync_airflow.connection_types import (
    CONNECTION_TYPES,
    ConnectionExtrasError,
    CrmStagingExtras,
    FlexmailExtras,
    OptimizelyCampaignExtras,
    SpotlerExtras,
    parse_extras,
)
from crm_sync_airflow.provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[3]

# What a fresh Airflow process (api-server, scheduler) sees: no PYTHONPATH, only the installed
# entry point. Prints the providers manager's view of our connection types as JSON.
PROBE = """
import json
from airflow.providers_manager import ProvidersManager
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
pm = ProvidersManager()
types = ("crm_staging", "optimizely_campaign", "spotler", "flexmail")
meta = {m.connection_type: m.model_dump() for m in HookMetaService.hook_meta_data()
        if m.connection_type in types}
print(json.dumps({
    "providers": sorted(p for p in pm.providers if p == "crm-campaign-sync"),
    "hooks": {t: [pm.hooks[t].hook_class_name, pm.hooks[t].hook_name, pm.hooks[t].connection_testable]
              for t in types if pm.hooks.get(t)},
    "widgets": sorted(k for k in pm.connection_form_widgets if k.split("__")[1] in types),
    "behaviours": {t: pm.field_behaviours.get(t) for t in types},
    "meta": meta,
}, default=str))
"""


@pytest.fixture(scope="module")
def airflow_view(tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("AIRFLOW")}
    env["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow"))
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path_factory.mktemp("cwd"),
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_providers_manager_lists_the_connection_types_with_their_hooks(airflow_view: dict) -> None:
    assert airflow_view["providers"] == ["crm-campaign-sync"]
    assert airflow_view["hooks"] == {
        "crm_staging": ["crm_sync_airflow.hooks.crm_staging.CrmStagingHook", "CRM staging database", True],
        "optimizely_campaign": [
            "crm_sync_airflow.hooks.optimizely_campaign.OptimizelyCampaignHook",
            "Optimizely Campaign",
            True,
        ],
        "spotler": ["crm_sync_airflow.hooks.spotler.SpotlerHook", "Spotler Mail+", True],
        "flexmail": ["crm_sync_airflow.hooks.flexmail.FlexmailHook", "Flexmail", True],
    }


def test_the_connection_form_gets_the_custom_fields_and_field_behaviour(airflow_view: dict) -> None:
    assert airflow_view["widgets"] == sorted(
        [f"extra__crm_staging__{name}" for name in CrmStagingExtras.model_fields]
        + [f"extra__optimizely_campaign__{name}" for name in OptimizelyCampaignExtras.model_fields]
        + [f"extra__spotler__{name}" for name in SpotlerExtras.model_fields]
        + [f"extra__flexmail__{name}" for name in FlexmailExtras.model_fields]
    )
    flexmail = airflow_view["meta"]["flexmail"]
    assert flexmail["extra_fields"]["requests_per_minute"]["value"] == 55.0
    assert flexmail["standard_fields"]["password"]["title"] == "Personal access token"
    assert airflow_view["behaviours"]["spotler"]["relabeling"]["login"] == "Consumer key"
    optimizely = airflow_view["meta"]["optimizely_campaign"]
    fields = optimizely["extra_fields"]
    # the one required extra is required in the form; the others may stay empty and show their default
    assert (
        fields["mandator_id"]["schema"]["type"] == "integer"
        and fields["mandator_id"]["schema"]["minimum"] == 1
    )
    assert (
        fields["batch_size"]["schema"]["type"] == ["integer", "null"]
        and fields["batch_size"]["value"] == 1000
    )
    assert fields["batch_size"]["schema"]["maximum"] == 1000
    assert fields["max_parallel_calls"]["schema"]["title"] == "Parallel calls"
    standard = optimizely["standard_fields"]
    assert standard["host"]["title"] == "SOAP base URL" and standard["port"]["hidden"] is True
    assert airflow_view["behaviours"]["optimizely_campaign"]["relabeling"]["login"] == "Webservice user"
    staging = airflow_view["meta"]["crm_staging"]
    assert staging["extra_fields"]["sqlalchemy_url"]["schema"]["title"] == "SQLAlchemy URL"
    assert staging["standard_fields"]["url_schema"]["title"] == "Database"


def test_provider_info_is_valid_for_airflow() -> None:
    import jsonschema
    from airflow import providers_manager

    schema = json.loads((Path(providers_manager.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["versions"] and info["hook-class-names"] == [ct.hook_class_name for ct in CONNECTION_TYPES]


def test_extras_are_parsed_by_the_model_with_the_connection_and_field_named() -> None:
    parsed = parse_extras(
        OptimizelyCampaignExtras,
        "c",
        "optimizely_campaign",
        {"extra__optimizely_campaign__mandator_id": "12", "batch_size": "", "verify": "false"},
    )
    assert (parsed.mandator_id, parsed.batch_size, parsed.verify) == (
        12,
        1000,
        False,
    )  # form keys, empty = unset
    with pytest.raises(ConnectionExtrasError) as error:
        parse_extras(
            OptimizelyCampaignExtras,
            "c",
            "optimizely_campaign",
            {"batch_size": 0, "timeout": True, "bacth": 1},
        )
    message = str(error.value)
    assert message.startswith("connection 'c': extra has unknown key(s) ['bacth']")
    assert "extra 'mandator_id' is required" in message
    assert "extra 'batch_size' must be between 1 and 1000, got 0" in message
    assert "extra 'timeout' must be a number, got True" in message


def test_staging_hook_refuses_an_unknown_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_sync_airflow.hooks.crm_staging import CrmStagingHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
        json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_ur": "sqlite:////tmp/x.db"}}),
    )
    with pytest.raises(ConnectionExtrasError, match="unknown key.*sqlalchemy_ur"):
        CrmStagingHook().sqlalchemy_url  # noqa: B018
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
        json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": "sqlite:////tmp/x.db"}}),
    )
    assert CrmStagingHook().sqlalchemy_url == "sqlite:////tmp/x.db"
