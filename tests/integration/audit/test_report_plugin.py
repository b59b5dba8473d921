"""The report plugin as Airflow sees it: discovered from plugins/ by the plugins manager, mounted by
the api-server's own ``init_plugins``, guarded by the configured auth manager, and reading the
staging database through the ``crm_staging_default`` connection (environment variable or, via the
core fallback, the metadata database).

tests/conftest.py points AIRFLOW__CORE__PLUGINS_FOLDER at this project's plugins/.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import sqlalchemy as sa
from airflow import plugins_manager
from fastapi import FastAPI
from fastapi.testclient import TestClient

from include.crm_sync.staging.engine import create_staging_engine
from tests.integration.audit.audit_state import NIGHT_2, two_nights

PLUGIN_FILE = Path(__file__).resolve().parents[3] / "plugins" / "crm_sync_report_plugin.py"


def plugin_info() -> dict:
    return next(info for info in plugins_manager.get_plugin_info() if info["name"] == "crm_sync_report")


def test_plugins_manager_discovers_the_plugin_with_its_app_and_views() -> None:
    assert str(PLUGIN_FILE) not in plugins_manager.get_import_errors()
    info = plugin_info()
    assert str(info["source"]) == "$PLUGINS_FOLDER/crm_sync_report_plugin.py"

    apps = [app for app in plugins_manager.get_fastapi_plugins()[0] if app["url_prefix"] == "/crm-sync"]
    assert len(apps) == 1 and isinstance(apps[0]["app"], FastAPI)

    views = {view["destination"]: view for view in info["external_views"]}
    assert views["nav"]["name"] == "Syncs"  # fits the left navigation ("CRM sync runs" showed "CRM syn…")
    assert views["nav"]["href"] == "crm-sync/"  # relative: resolved against the UI's <base href>
    assert views["dag_run"]["name"] == "Sync report"
    assert views["dag_run"]["href"] == "crm-sync/runs/{RUN_ID}?dag_id={DAG_ID}"
    # the UI only shows views with a route of their own, unique across plugins
    routes = {views["nav"]["url_route"], views["dag_run"]["url_route"]}
    assert routes == {"crm-sync-runs", "crm-sync-run-report"}


@pytest.fixture
def audit_db(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A SQLite staging database with two audited nights. SQLite only: the plugin's app is one per
    process and keeps the engine of its first request."""
    path = tmp_path / "staging.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = create_staging_engine(url)
    two_nights(engine)
    engine.dispose()
    yield url


@pytest.fixture
def api_server(airflow_db, audit_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The plugin apps mounted as the api-server mounts them, with the auth manager initialised
    (token checks read the metadata database's revoked tokens)."""
    from airflow.api_fastapi.app import init_auth_manager, init_plugins, purge_cached_app

    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
        json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": audit_db}}),
    )
    app = FastAPI()
    init_plugins(app)
    init_auth_manager(app)
    try:
        with TestClient(app, follow_redirects=False) as client:
            yield client
    finally:
        purge_cached_app()


def token(role: str | None) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"user-{role}", role=role))


def test_pages_need_an_airflow_user_who_may_read_the_runs(api_server: TestClient) -> None:
    path = "/crm-sync/runs/" + quote(NIGHT_2, safe="")

    browser = api_server.get(path, headers={"Accept": "text/html"})
    assert browser.status_code == 302
    login = urlsplit(browser.headers["location"])
    assert login.path == "/auth/login" and parse_qs(login.query)["next"] == [f"http://testserver{path}"]
    assert api_server.get(path).status_code == 401
    assert api_server.get("/crm-sync/", headers={"Authorization": "Bearer not-a-token"}).status_code == 403
    assert api_server.get(path, headers={"Authorization": f"Bearer {token(None)}"}).status_code == 403

    page = api_server.get(path, headers={"Authorization": f"Bearer {token('viewer')}"})
    assert page.status_code == 200
    for name in ("newsletter_nl", "product_updates", "events_webinars", "synced"):
        assert name in page.text
    assert "@" not in page.text
    # the UI's session cookie works the same (the page is shown in an iframe of the UI)
    api_server.cookies.set("_token", token("viewer"))
    assert "<svg" in api_server.get("/crm-sync/").text


def test_connection_from_the_metadata_database(airflow_db, audit_db: str, monkeypatch, caplog) -> None:
    """A connection made in the UI lives in the metadata database, which the Task SDK does not read
    outside a task; the plugin then asks the core lookup."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from crm_sync_report_plugin import staging_engine_from_connection

    monkeypatch.delenv("AIRFLOW_CONN_CRM_STAGING_DEFAULT", raising=False)
    with create_session() as session:
        session.add(
            Connection(
                conn_id="crm_staging_default",
                conn_type="crm_staging",
                extra=json.dumps({"sqlalchemy_url": audit_db}),
            )
        )
    try:
        with caplog.at_level("INFO", logger="crm_sync_report_plugin"):
            engine = staging_engine_from_connection()
        assert "using the core lookup" in caplog.text  # the Task SDK alone did not find it
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM sync_run")).scalar() == 2
        engine.dispose()
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "crm_staging_default").delete()
