"""Airflow UI plugin: the audit of ``crm_campaign_sync`` runs as web pages, without SQL.

Serves a small FastAPI app on the api-server at ``/crm-sync``:

* ``GET /crm-sync/`` -- recent sync runs (each linking to its page) and a chart of list sizes;
  ``?metric=snapshot_rows|accepted|platform_count`` picks the charted size, ``?limit=N`` the runs.
* ``GET /crm-sync/runs/{run_id}`` -- one run: header and a table per list (every count of the
  RunSummary, codes 0-7, exclusions by reason, validation failures); 404 page for unknown runs.
  ``?dag_id=`` (as the UI's dag-run tab passes it) 404s for runs of other DAGs.

and registers two external views: the nav entry "Syncs" and a "Sync report" tab on every
dag run (Airflow 3.3 cannot limit a tab to one DAG; runs of other DAGs get a page saying so).

Airflow does not authenticate plugin apps, so every route checks the caller itself with the
configured auth manager (the UI's session cookie or a bearer token; read access to the runs of
``crm_campaign_sync``); a browser without a session is sent to the login page. The staging engine
is made on the first request from the ``crm_staging_default`` connection. Importing this module
costs only FastAPI (already loaded by the api-server): the domain, SQLAlchemy and the auth code
are imported when a request needs them, since every Airflow process loads plugin files.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

#: the DAG whose audit the pages show; read access to its runs is what the pages require
SYNC_DAG_ID = "crm_campaign_sync"
URL_PREFIX = "/crm-sync"

EngineProvider = Callable[[], "Engine"]
#: returns None to let the request through, or the response to send instead (401/403/redirect)
AccessCheck = Callable[[Request], Awaitable[Response | None]]


# --------------------------------------------------------------------------- the app


def create_app(engine_provider: EngineProvider, *, access_check: AccessCheck | None = None) -> FastAPI:
    """The report app. ``engine_provider`` is called once, on the first request that needs the
    database (again after a failure); ``access_check`` runs before every route (None: open)."""
    app = FastAPI(title="CRM sync report", docs_url=None, redoc_url=None, openapi_url=None)
    engine_box: list[Engine] = []
    lock = threading.Lock()

    def engine() -> Engine:
        if not engine_box:
            with lock:
                if not engine_box:
                    engine_box.append(engine_provider())
        return engine_box[0]

    if access_check is not None:

        @app.middleware("http")
        async def _check_access(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            denied = await access_check(request)
            return denied if denied is not None else await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def index(
        request: Request, metric: str = "snapshot_rows", limit: int = Query(30, ge=1, le=500)
    ) -> Response:
        from include.crm_sync.audit import history, report_html

        base = _base(request)
        if metric not in report_html.METRICS:
            metric = report_html.DEFAULT_METRIC
        try:
            runs = history.recent_runs(engine(), limit)
            sizes = history.list_sizes(engine(), [run.run_id for run in runs])
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database is a 503 page
            return _unavailable(exc, base)
        page = report_html.index_page(
            runs,
            sizes,
            metric=metric,
            run_href=lambda run_id: _run_href(base, run_id),
            metric_href=lambda key: f"{base}/?{urlencode({'metric': key, 'limit': limit})}",
        )
        return HTMLResponse(page)

    @app.get("/runs/{run_id:path}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str, dag_id: str | None = None) -> Response:
        from include.crm_sync.audit import history, report_html
        from include.crm_sync.audit.summary import build_run_summary

        base = _base(request)
        try:
            run = history.get_run(engine(), run_id)
            summary = build_run_summary(engine(), run_id) if run is not None else None
        except LookupError:  # deleted between the two reads
            run = summary = None
        except Exception as exc:  # noqa: BLE001 - as above
            return _unavailable(exc, base)
        if run is None or summary is None or (dag_id and run.dag_id and dag_id != run.dag_id):
            other_dag = dag_id and dag_id != SYNC_DAG_ID
            message = (
                f"Run {run_id!r} of DAG {dag_id!r} has no CRM sync audit: "
                f"this report covers the runs of {SYNC_DAG_ID} only."
                if other_dag
                else f"There is no sync run {run_id!r} in the CRM sync audit. It may not have started its "
                "audit yet (start_run), or it belongs to another staging database."
            )
            page = report_html.message_page("Sync run not found", message, index_href=f"{base}/")
            return HTMLResponse(page, status_code=404)
        return HTMLResponse(report_html.run_page(summary, run, index_href=f"{base}/"))

    return app


def _base(request: Request) -> str:
    """Absolute path of the app's root (API base path + mount prefix), for links that work at
    any depth -- run ids may contain slashes -- and behind a base_url with a path."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _run_href(base: str, run_id: str) -> str:
    # Quote everything (":", "+", "/") so the link survives any proxy; the route decodes it.
    return f"{base}/runs/{quote(run_id, safe='')}"


def _unavailable(exc: Exception, base: str) -> Response:
    from include.crm_sync.audit.report_html import message_page

    # Only the exception type: the message of a failed connect or URL parse can hold the password.
    log.warning("CRM sync report: staging database unavailable (%s)", type(exc).__name__)
    message = (
        f"The CRM staging database could not be read ({type(exc).__name__}). Check the connection "
        "'crm_staging_default' and that the database is reachable from the api-server."
    )
    return HTMLResponse(message_page("CRM staging database unavailable", message, index_href=f"{base}/"), 503)


# --------------------------------------------------------------------------- Airflow glue


def staging_engine_from_connection() -> Engine:
    """The staging engine from the ``crm_staging_default`` connection, as seen by the api-server.

    The Task SDK hook finds connections in environment variables and secrets backends but, outside
    a task, not in the metadata database (the api-server is not a "server context" for the SDK);
    then the core ``Connection.get_connection_from_secrets`` (which also reads the metadata
    database) is asked instead.
    """
    from crm_sync_airflow.hooks.crm_staging import CrmStagingHook

    hook = CrmStagingHook()
    try:
        hook.sqlalchemy_url  # noqa: B018 - resolves the connection now, to choose the lookup
    except Exception as exc:  # noqa: BLE001 - AirflowNotFoundException, or the SDK refusing outside a task

        class _CoreLookupHook(CrmStagingHook):
            @classmethod
            def get_connection(cls, conn_id: str) -> Any:  # the core Connection
                from airflow.models.connection import Connection

                return Connection.get_connection_from_secrets(conn_id)

        log.info(
            "CRM sync report: connection via the Task SDK failed (%s); using the core lookup",
            type(exc).__name__,
        )
        hook = _CoreLookupHook()
    return hook.get_conn()


async def airflow_access_check(request: Request) -> Response | None:
    """Let through callers the auth manager allows to read the runs of ``crm_campaign_sync``.

    Same credentials as the UI and API (bearer token, else the session cookie); a browser without
    a session is redirected to the login page and comes back here afterwards.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import HTTPException
    from fastapi.security import HTTPAuthorizationCredentials

    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if token else None
    try:
        user = await get_user(request, None, bearer)
    except HTTPException as exc:
        if exc.status_code == 401 and bearer is None and "text/html" in request.headers.get("accept", ""):
            # back to the URL as sent (raw path: a run id's %2B must not come back as a bare +)
            raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
            next_url = str(request.url.replace(path=raw_path))
            return RedirectResponse(get_auth_manager().get_url_login(next_url=next_url), 302)
        return HTMLResponse(
            f"<!DOCTYPE html><title>Not signed in</title><p>{exc.status_code}: sign in to "
            "Airflow to see the CRM sync report.</p>",
            exc.status_code,
        )
    allowed = get_auth_manager().is_authorized_dag(
        method="GET", access_entity=DagAccessEntity.RUN, details=DagDetails(id=SYNC_DAG_ID), user=user
    )
    if not allowed:
        return HTMLResponse(
            f"<!DOCTYPE html><title>Forbidden</title><p>403: you may not read the runs of {SYNC_DAG_ID}.</p>",
            403,
        )
    return None


class CrmSyncReportPlugin(AirflowPlugin):
    """The report app at /crm-sync, a nav entry to its index and a tab on dag runs."""

    name = "crm_sync_report"
    fastapi_apps = [
        {
            "app": create_app(staging_engine_from_connection, access_check=airflow_access_check),
            "url_prefix": URL_PREFIX,
            "name": "CRM sync report",
        }
    ]
    # hrefs without a leading slash resolve against the UI's <base href>, i.e. the api base_url.
    # The UI fills {RUN_ID}/{DAG_ID} (URL-encoded) for non-nav destinations.
    external_views = [
        {
            # short: the left navigation shows about seven characters under an icon ("CRM syn…")
            "name": "Syncs",
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "url_route": "crm-sync-runs",
        },
        {
            "name": "Sync report",
            "href": URL_PREFIX.lstrip("/") + "/runs/{RUN_ID}?dag_id={DAG_ID}",
            "destination": "dag_run",
            "url_route": "crm-sync-run-report",
        },
    ]
