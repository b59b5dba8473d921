"""The report pages over real audits on SQLite and PostgreSQL, through the plugin's FastAPI app.

The app comes from ``create_app(engine_provider)`` -- the same factory the plugin uses, with the
test's engine instead of the Airflow connection and without Airflow's access check (that is
covered in test_report_plugin.py). Pages are parsed with the standard library's HTML parser.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from crm_sync_report_plugin import create_app
from fastapi import FastAPI
from fastapi.testclient import TestClient

from include.crm_sync.audit.runs import finish_sync_run, start_sync_run
from tests.integration.audit.audit_state import (
    DAG_ID,
    NEWSLETTER_CODES,
    NIGHT_1,
    NIGHT_2,
    add_list,
    two_nights,
)


class Page(HTMLParser):
    """Text of every table cell, per list section (``id`` of the enclosing <section>) and table."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.section = ""
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.links: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "section":
            self.section = attr.get("id") or ""
        elif tag == "table":
            self.tables.setdefault(self.section, []).append([])
        elif tag == "tr":
            self.tables[self.section][-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a" and attr.get("href"):
            self.links.append(attr["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self.section][-1][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "section":
            self.section = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def fields(self, section: str) -> dict[str, str]:
        """The key/value table of a list section."""
        return {row[0]: row[1] for row in self.tables[section][0] if len(row) == 2}

    def codes(self, section: str) -> dict[str, int]:
        """The addAll3 result code table of a list section: code -> count."""
        header, values = self.tables[section][1]
        return {h.split()[0]: int(v.replace(",", "")) for h, v in zip(header, values, strict=True)}


@pytest.fixture
def audited(staging_engine: sa.Engine) -> sa.Engine:
    two_nights(staging_engine)
    return staging_engine


@pytest.fixture
def client(audited: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(lambda: audited)) as client:
        yield client


def run_url(run_id: str) -> str:
    return "/runs/" + quote(run_id, safe="")


def test_run_page_shows_every_list_with_its_counts(client: TestClient) -> None:
    response = client.get(run_url(NIGHT_2))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert "@" not in text
    page = Page(text)
    header = dict(row for row in page.tables[""][0] if len(row) == 2)
    assert header["run id"] == NIGHT_2
    assert header["status"].startswith("failed")
    assert (header["dry run"], header["forced"], header["feedback import ok"]) == ("no", "no", "yes")

    newsletter = page.fields("list-newsletter_nl")
    assert newsletter["status"].startswith("synced")
    assert newsletter["selected"] == "1,260"
    assert newsletter["excluded"].startswith("50 in total")
    assert "40 — unsubscribed" in newsletter["excluded"] and "10 — no_consent" in newsletter["excluded"]
    assert newsletter["snapshot rows"] == newsletter["uploaded"] == "1,210"
    assert newsletter["validation"] == "1,210 rows passed"
    assert newsletter["accepted (codes 0 and 5)"] == newsletter["count on the platform"] == "1,200"
    assert newsletter["rejected"] == "10"
    assert newsletter["list empty or partial (s)"] == "42.5"
    assert page.codes("list-newsletter_nl") == {c: NEWSLETTER_CODES.get(c, 0) for c in map(str, range(8))}

    product = page.fields("list-product_updates")
    assert product["status"].startswith("guarded")
    assert "volume within 20% of last run (observed: 145 rows, last run 390)" in product["validation"]
    assert product["uploaded"] == "–"

    events = page.fields("list-events_webinars")
    assert events["status"].startswith("failed")
    assert events["error"] == "SOAP fault: recipient [address hidden] refused by mandator"


def test_run_ids_with_reserved_characters_are_found_quoted_or_not(client: TestClient) -> None:
    # The UI's dag-run tab sends the run id URL-encoded; a hand-typed URL has it as is.
    assert "synced" in client.get(run_url(NIGHT_1)).text
    assert client.get(f"/runs/{NIGHT_1}").status_code == 200
    assert client.get(run_url(NIGHT_1), params={"dag_id": "crm_campaign_sync"}).status_code == 200


def test_index_lists_runs_newest_first_with_links_and_a_chart(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert "@" not in response.text
    page = Page(response.text)
    run_rows = page.tables[""][-1][1:]
    assert [row[0] for row in run_rows] == [NIGHT_2, NIGHT_1]
    assert [row[-1] for row in run_rows] == ["1 / 3", "2 / 2"]
    assert "<svg" in response.text and "<polyline" in response.text
    # each run links to its page, and the link leads there
    run_links = [link for link in page.links if "/runs/" in link]
    assert run_links == [run_url(NIGHT_2), run_url(NIGHT_1)]
    assert NIGHT_2 in client.get(run_links[0]).text


def test_chart_metric_switch(client: TestClient) -> None:
    snapshot = Page(client.get("/").text)
    numbers = {row[0]: row[1:] for row in snapshot.tables[""][0][1:]}  # list \ run table: oldest run first
    assert numbers == {"newsletter_nl": ["1,210", "1,210"], "product_updates": ["395", "145"]}

    accepted = Page(client.get("/", params={"metric": "accepted"}).text)
    numbers = {row[0]: row[1:] for row in accepted.tables[""][0][1:]}
    assert numbers == {"newsletter_nl": ["1,190", "1,200"], "product_updates": ["390", "–"]}
    assert client.get("/", params={"metric": "nonsense"}).status_code == 200


def test_unknown_run_is_a_404_page(client: TestClient) -> None:
    response = client.get(run_url("manual__2099-01-01T00:00:00+00:00"))
    assert response.status_code == 404
    assert "There is no sync run 'manual__2099-01-01T00:00:00+00:00'" in html.unescape(response.text)

    # the dag-run tab shows on every DAG; runs of other DAGs get a page that says so
    other = client.get(run_url(NIGHT_1), params={"dag_id": "campaign_response_import"})
    assert other.status_code == 404
    assert "covers the runs of crm_campaign_sync only" in other.text


def test_links_carry_the_mount_prefix(audited: sa.Engine) -> None:
    """Mounted like the api-server mounts plugin apps, links are absolute paths under the prefix."""
    root = FastAPI()
    root.mount("/crm-sync", create_app(lambda: audited))
    with TestClient(root) as client:
        page = Page(client.get("/crm-sync/").text)
        link = next(link for link in page.links if "/runs/" in link)
        assert link == "/crm-sync" + run_url(NIGHT_2)
        run = Page(client.get(link).text)
        assert run.links[0] == "/crm-sync/"


def test_engine_is_made_on_first_use_and_retried_after_a_failure(audited: sa.Engine) -> None:
    calls: list[str] = []

    def provider() -> sa.Engine:
        calls.append("called")
        if len(calls) == 1:
            raise RuntimeError("connection 'crm_staging_default' not defined yet, password=hunter2")
        return audited

    app = create_app(provider)
    assert calls == []  # creating the app (at plugin import) touches no database
    with TestClient(app) as client:
        failed = client.get("/")
        assert failed.status_code == 503
        assert "RuntimeError" in failed.text and "hunter2" not in failed.text
        assert client.get("/").status_code == 200
        assert client.get(run_url(NIGHT_1)).status_code == 200
    assert len(calls) == 2


def test_empty_audit(staging_engine: sa.Engine) -> None:
    with TestClient(create_app(lambda: staging_engine)) as client:
        response = client.get("/")
    assert response.status_code == 200
    assert "No sync run has been recorded yet" in response.text


def test_a_dry_run_shows_its_feedback_import_as_skipped_not_as_an_alarm(staging_engine: sa.Engine) -> None:
    """A dry run does not import feedback (the CRM's feedback state is not touched): that is a skip,
    shown neutrally, not the red "no (no list may be refilled)" of a failed import."""
    dry = "manual__2026-11-27T03:00:00+00:00"
    start_sync_run(staging_engine, dry, dag_id=DAG_ID, dry_run=True)
    add_list(staging_engine, dry, "newsletter_nl", "1001", status="dry_run", selected=10, snapshot_rows=10)
    finish_sync_run(staging_engine, dry, status="success", summary={})
    failed = "manual__2026-11-28T03:00:00+00:00"
    start_sync_run(staging_engine, failed, dag_id=DAG_ID)  # feedback import never succeeded
    finish_sync_run(staging_engine, failed, status="failed", summary={})

    with TestClient(create_app(lambda: staging_engine)) as client:
        dry_page, failed_page, index = (
            client.get(run_url(dry)).text,
            client.get(run_url(failed)).text,
            client.get("/").text,
        )

    header = dict(row for row in Page(dry_page).tables[""][0] if len(row) == 2)
    assert header["feedback import ok"].startswith("skipped")
    assert "no list may be refilled" not in dry_page
    feedback_cell = dry_page.split("feedback import ok</th>")[1].split("</td>")[0]
    assert 'class="bad"' not in feedback_cell
    assert dict(row for row in Page(failed_page).tables[""][0] if len(row) == 2)["feedback import ok"] == (
        "no (no list may be refilled)"
    )
    runs = {row[0]: row for row in Page(index).tables[""][-1][1:]}
    assert runs[dry][5] == "skipped" and runs[failed][5] == "no"
