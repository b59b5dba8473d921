"""``crm_campaign_sync`` with two Spotler audience lists, end to end with ``dag.test()``: the real client
on the emulator over real HTTP, a small CRM on SQLite and PostgreSQL, connections as environment
variables.

Night 1 fills both audiences. During the day consents are revoked, someone opts out in Spotler and
new people consent; the list ``old_spotler`` is marked ``delete: true`` while its audience is in use
(a scheduled mailing). Night 2: the marked list is neither extracted nor synced, its audience stays
and the report says what the user must remove first; the other list syncs, and the run summary's
added / removed / unchanged equal what the emulator's /_control/state shows changed. Night 3 (the
mailing gone): the audience is deleted and the report says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException
from crm_sync_airflow import sync_tasks

from include.crm_sync.audit.report_html import run_page
from include.crm_sync.audit.summary import build_run_summary
from include.crm_sync.platforms.spotler.errors import IN_USE_ACTION
from include.crm_sync.staging import tables as t
from tests.integration.dags.nightly import run_dag, task_states
from tests.integration.spotler.scenario import KEY, SECRET, add_entities, build_crm, contact_id, revoke

KEPT, OLD = "crm-kept", "crm-old"
LISTS_YAML = """
lists:
  - name: kept_spotler
    platform: spotler
    consent: newsletter
    audience: {{external_id: {kept}, name: Kept audience}}
    selection: {{filter: {{}}}}
    attributes: {{firstName: first_name}}
  - name: old_spotler
    platform: spotler
    consent: newsletter
    audience: {{external_id: {old}, name: Old audience}}
    selection: {{filter: {{languages: [nl]}}}}
    attributes: {{firstName: first_name}}
{delete}"""


def write_lists(path: Path, *, delete_old: bool) -> None:
    delete = "    delete: true\n" if delete_old else ""
    path.write_text(LISTS_YAML.format(kept=KEPT, old=OLD, delete=delete), encoding="utf-8")


@pytest.fixture
def env(staging_engine, staging_url, spotler, airflow_db, tmp_path, monkeypatch):
    build_crm(staging_engine, 30)
    lists_file = tmp_path / "lists.yaml"
    write_lists(lists_file, delete_old=False)
    monkeypatch.setenv("CRM_SYNC_LISTS_FILE", str(lists_file))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
        json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": staging_url}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPOTLER_DEFAULT",
        json.dumps(
            {
                "conn_type": "spotler",
                "host": spotler.api_url,
                "login": KEY,
                "password": SECRET,
                "extra": {"timeout": 20, "max_attempts": 3},
            }
        ),
    )
    monkeypatch.setenv("CRM_SYNC_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv(
        "CRM_SYNC_FAILURE_NOTIFIER", "tests.integration.dags.recording_notifier:RecordingNotifier"
    )
    monkeypatch.setenv("CRM_SYNC_TEST_NOTIFICATIONS", str(tmp_path / "notifications.jsonl"))
    return lists_file


def audiences(spotler: Any) -> dict[str, set[str]]:
    """externalId -> its members, as the emulator's /_control/state shows them."""
    state = spotler.control.state(contacts=False)
    return {a["externalId"]: set(a["members"]) for a in state["audiences"]}


def stored_summary(engine: sa.Engine, run_id: str) -> dict:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.sync_run.c.summary).where(t.sync_run.c.run_id == run_id)).scalar_one()


def test_a_list_marked_delete_is_not_synced_its_audience_goes_and_the_report_counts_changes(
    env, staging_engine, spotler
):
    # ---- night 1: both audiences filled; every member an add
    night1 = run_dag()
    assert night1.state == "success", task_states(night1.run_id)
    before = audiences(spotler)
    assert len(before[KEPT]) == len(before[OLD]) == 30
    first = {item.list_name: item for item in build_run_summary(staging_engine, night1.run_id).lists}
    assert (first["kept_spotler"].added, first["kept_spotler"].removed) == (30, 0)
    assert (first["kept_spotler"].unchanged, first["kept_spotler"].refused) == (0, {})

    # ---- during the day: consents revoked, an opt-out in Spotler, new consenting people; the old list
    # is marked delete while its audience is used by a scheduled mailing
    revoke(staging_engine, [0, 1, 2])
    spotler.control.opt_out(contact_id(3))
    add_entities(staging_engine, [30, 31])
    write_lists(env, delete_old=True)
    spotler.control.set_in_use(OLD, True, "scheduled mailing")

    with pytest.raises(AirflowFailException, match="marked 'delete: true'"):  # nor can the lists param
        sync_tasks.start_run({"params": {"lists": ["old_spotler"]}, "run_id": "x", "dag": None})

    # ---- night 2: the marked list is not extracted; its audience is in use, so it stays (reported)
    night2 = run_dag()
    assert night2.state == "success", task_states(night2.run_id)
    states = task_states(night2.run_id)
    assert ("sync_list.extract", "old_spotler") not in states
    assert states[("sync_list.refill", "kept_spotler")] == "success"
    assert states[("delete_removed_lists", None)] == "success"
    after = audiences(spotler)
    assert after[OLD] == before[OLD]  # in use: not deleted, not synced

    summary = build_run_summary(staging_engine, night2.run_id)
    assert [item.list_name for item in summary.lists] == ["kept_spotler"]
    kept = summary.lists[0]
    gone, joined = before[KEPT] - after[KEPT], after[KEPT] - before[KEPT]
    assert gone == {contact_id(i) for i in range(4)} and joined == {contact_id(30), contact_id(31)}
    assert kept.removed == len(gone) == 4
    assert kept.added == len(joined) == 2
    assert kept.unchanged == len(before[KEPT] & after[KEPT]) == 26
    assert kept.refused == {}
    assert kept.platform_count == len(after[KEPT])
    line = f"spotler list {OLD} (list old_spotler): in use, not deleted: {IN_USE_ACTION}"
    assert line in summary.notes
    assert line in summary.as_table()
    stored = stored_summary(staging_engine, night2.run_id)
    assert stored["action_needed"] == {f"spotler:{OLD}": f"in use, not deleted: {IN_USE_ACTION}"}
    page = run_page(summary, None, index_href="/")
    assert "in use, not deleted" in page and "Platform lists deleted" in page
    row = page.split('href="#list-kept_spotler">kept_spotler</a>')[1].split("</tr>")[0]
    assert "<td class=n>2</td><td class=n>4</td><td class=n>0</td><td class=n>26</td>" in row

    # ---- night 3: the mailing is gone; the audience is deleted and the report says so
    spotler.control.set_in_use(OLD, False)
    night3 = run_dag()
    assert night3.state == "success", task_states(night3.run_id)
    final = audiences(spotler)
    assert set(final) == {KEPT} and final[KEPT] == after[KEPT]
    summary = build_run_summary(staging_engine, night3.run_id)
    assert f"spotler list {OLD} (list old_spotler): deleted" in summary.as_table()
    assert summary.notes == []
    quiet = summary.lists[0]
    assert (quiet.added, quiet.removed, quiet.unchanged) == (0, 0, 28)
    assert "deleted" in run_page(summary, None, index_href="/")
