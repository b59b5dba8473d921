"""``crm_campaign_sync`` end to end with ``dag.test()``: the emulator over real HTTP, a generated CRM on
SQLite and PostgreSQL, connections as ``AIRFLOW_CONN_...`` environment variables (JSON form).

Each ``dag.test()`` costs seconds, so the scenarios are nights in a row rather than one run per test:
night 1 fills the lists; the platform mails them (bounces, unsubscribes); a dry run changes nothing;
night 2 applies that feedback first and leaves those people out; night 3 (nothing new) ends in the
same state. A second scenario trips a volume guard on one list, then forces past it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from airflow.dag_processing.dagbag import DagBag

from include.crm_sync.audit.summary import RESULT_CODES
from include.crm_sync.config.paths import DEFAULT_LISTS_PATH, LISTS_FILE_ENV
from include.crm_sync.generate import generate
from include.crm_sync.staging import tables as t
from include.crm_sync.staging.engine import create_staging_engine
from tests.integration.sync.scenario import (
    assert_counts_add_up,
    calls,
    expected_list,
    platform_list,
    snapshot_list,
)

DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"
DAG_ID = "crm_campaign_sync"
LIST_IDS = {"newsletter_nl": 1001, "product_updates": 1002, "events_webinars": 1003}
OPTIN = {"newsletter_nl": 2001, "product_updates": 2002, "events_webinars": 2001}
CONTACTS = 400


@dataclass
class Env:
    engine: sa.Engine
    emulator: Any
    notifications: Path


@pytest.fixture
def env(staging_url, optimizely_emulator, airflow_db, tmp_path, monkeypatch):
    generate(staging_url, contacts=CONTACTS, seed=11)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
        json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": staging_url}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPTIMIZELY_CAMPAIGN_DEFAULT",
        json.dumps(
            {
                "conn_type": "optimizely_campaign",
                "host": optimizely_emulator.base_url,
                "login": "demo",
                "password": "demo",
                "extra": {"mandator_id": 1, "batch_size": 25, "max_parallel_calls": 4},
            }
        ),
    )
    monkeypatch.setenv("CRM_SYNC_LANDING_DIR", str(tmp_path / "landing"))
    # The shipped lists file's Optimizely lists only: these nights are about Optimizely's refill (the
    # other platforms' nights are tests/integration/dags/test_nightly_mailjet.py and the e2e tests).
    shipped = yaml.safe_load(DEFAULT_LISTS_PATH.read_text(encoding="utf-8"))
    shipped["lists"] = [
        item for item in shipped["lists"] if item.get("platform", "optimizely") == "optimizely"
    ]
    lists_file = tmp_path / "lists.yaml"
    lists_file.write_text(yaml.safe_dump(shipped, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv(LISTS_FILE_ENV, str(lists_file))
    monkeypatch.setenv(
        "CRM_SYNC_FAILURE_NOTIFIER", "tests.integration.dags.recording_notifier:RecordingNotifier"
    )
    monkeypatch.setenv("CRM_SYNC_TEST_NOTIFICATIONS", str(tmp_path / "notifications.jsonl"))
    engine = create_staging_engine(staging_url)
    yield Env(engine, optimizely_emulator, tmp_path / "notifications.jsonl")
    engine.dispose()


def run_dag(**conf: Any):
    """One DAG run; parsed afresh (``dag.test(run_conf=...)`` leaves the conf in the DAG's params)."""
    bag = DagBag(dag_folder=str(DAGS_DIR / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID].test(run_conf=conf)


# ------------------------------------------------------------------ reading the outcome


def task_states(run_id: str) -> dict[tuple[str, int], tuple[str, str | None]]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            (ti.task_id, ti.map_index): (str(ti.state), ti.rendered_map_index)
            for ti in session.query(TaskInstance).filter(
                TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id
            )
        }


def asset_events(run_id: str) -> dict[str, dict]:
    """asset name -> extra of the asset events this run's refills emitted."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetModel.name, AssetModel.uri, AssetEvent.extra, AssetEvent.source_task_id)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_dag_id == DAG_ID, AssetEvent.source_run_id == run_id)
            .all()
        )
    assert all(task_id == "sync_list.refill" for *_, task_id in rows)
    return {name: {"uri": uri, **extra} for name, uri, extra, _ in rows}


def list_runs(engine: sa.Engine, run_id: str) -> dict[str, dict]:
    with engine.connect() as conn:
        return {
            r["list_name"]: dict(r)
            for r in conn.execute(sa.select(t.list_run).where(t.list_run.c.run_id == run_id)).mappings()
        }


def summary(engine: sa.Engine, run_id: str) -> tuple[str, dict]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t.sync_run.c.status, t.sync_run.c.summary).where(t.sync_run.c.run_id == run_id)
        ).one()
    return row.status, row.summary


def platform_lists(emulator) -> dict[str, dict]:
    return {name: platform_list(emulator, list_id) for name, list_id in LIST_IDS.items()}


def assert_lists_equal_snapshots(env: Env, run_id: str, names=tuple(LIST_IDS)) -> None:
    """Each synced list holds exactly its snapshot (minus what the platform refused, with its code)."""
    runs = list_runs(env.engine, run_id)
    for name in names:
        row = runs[name]
        assert row["status"] == "synced", (name, row["status"], row["error"])
        on_platform = platform_list(env.emulator, LIST_IDS[name])
        assert on_platform == expected_list(env.engine, row["list_run_id"]), name
        assert len(on_platform) > 0
        assert {
            r["optin_process_id"] for r in env.emulator.control.recipients(LIST_IDS[name])["recipients"]
        } == {OPTIN[name]}
        assert_counts_add_up(env.engine, row["list_run_id"])


def crm_feedback_state(engine: sa.Engine) -> dict[str, list]:
    """Everything the feedback import (and a refill's code 3) may change in the CRM."""
    tables = (
        t.crm_entity,
        t.crm_consent,
        t.crm_blocklist,
        t.feedback_bounce,
        t.feedback_unsubscribe,
        t.file_ledger,
        t.rejected_row,
        t.export_watermark,
    )
    with engine.connect() as conn:
        return {table.name: sorted(map(tuple, conn.execute(sa.select(table))), key=repr) for table in tables}


def emulator_state(emulator) -> dict[str, Any]:
    state = emulator.control.state()
    keep = {
        k: state[k] for k in ("lists", "blocklist", "unsubscribes", "bounce_counters", "mailings", "events")
    }
    return keep | {
        "recipients": {name: emulator.control.recipients(i)["recipients"] for name, i in LIST_IDS.items()}
    }


def notifications(env: Env) -> list[dict]:
    if not env.notifications.exists():
        return []
    return [json.loads(line) for line in env.notifications.read_text().splitlines()]


# ------------------------------------------------------------------ wiring (parse only)


def test_wiring_feedback_first_mapped_per_list_assets_and_schedule(monkeypatch):
    from airflow.sdk import AssetAlias

    monkeypatch.setenv("CRM_SYNC_SCHEDULE", "30 1 * * *")
    dag = DagBag(dag_folder=str(DAGS_DIR / f"{DAG_ID}.py")).dags[DAG_ID]
    assert dag.schedule == "30 1 * * *" and dag.max_active_runs == 1
    # extract runs after every platform's feedback import (mapped per platform) and is mapped over
    # start_run's lists (expand); it goes on only if its own platform's import succeeded
    extract = dag.get_task("sync_list.extract")
    assert {"import_feedback", "start_run"} <= extract.upstream_task_ids
    assert extract.trigger_rule == "all_done"
    assert type(dag.task_group.get_task_group_dict()["sync_list"]).__name__ == "MappedTaskGroup"
    [list_name] = extract.op_args
    assert type(list_name).__name__ == "MappedArgument"  # .expand(list_name=start_run())
    feedback = dag.get_task("import_feedback")
    # lists.yaml's platforms
    platforms = ["flexmail", "mailjet", "optimizely", "spotler"]
    assert feedback.op_kwargs_expand_input.value == {"platform": platforms}
    assert feedback.map_index_template == "{{ platform }}"
    assert dag.get_task("sync_list.refill").outlets == [AssetAlias("crm_sync_platform_lists")]
    for task in dag.tasks:
        assert task.retries >= 1 and task.retry_exponential_backoff and task.on_failure_callback
        assert task.doc_md, task.task_id


# ------------------------------------------------------------------ scenarios


@pytest.mark.e2e
@pytest.mark.slow
def test_nights_in_a_row_with_feedback_a_dry_run_and_a_rerun(env):
    # -- night 1: every list filled with its snapshot
    night1 = run_dag()
    assert night1.state == "success"
    states = task_states(night1.run_id)
    # no Flexmail list in this lists file: the label sync has nothing to do
    assert states.pop(("sync_labels", -1))[0] == "skipped"
    assert {state for state, _ in states.values()} == {"success"}
    for task_id in ("sync_list.extract", "sync_list.validate", "sync_list.refill"):
        assert [states[(task_id, i)][1] for i in range(3)] == list(LIST_IDS), "mapped tasks named after lists"
    assert_lists_equal_snapshots(env, night1.run_id)
    events = asset_events(night1.run_id)
    assert {name: e["uri"] for name, e in events.items()} == {
        f"optimizely_list_{i}": f"crm-sync://optimizely/lists/{i}" for i in LIST_IDS.values()
    }
    runs1 = list_runs(env.engine, night1.run_id)
    assert {name: e["accepted"] for name, e in events.items()} == {
        f"optimizely_list_{LIST_IDS[n]}": r["accepted"] for n, r in runs1.items()
    }
    status, report = summary(env.engine, night1.run_id)
    assert (
        status == "success"
        and report["failed_lists"] == []
        and report["feedback_ok"]
        and not report["dry_run"]
    )
    for item in report["lists"]:
        run = runs1[item["list_name"]]
        assert item["validated"] == item["snapshot_rows"] == run["snapshot_rows"] > 0
        assert item["selected"] == item["snapshot_rows"] + sum(item["excluded"].values())
        assert list(item["result_codes"]) == list(RESULT_CODES)
        assert sum(item["result_codes"].values()) == item["uploaded"] == item["accepted"] + item["rejected"]
        assert item["platform_count"] == item["accepted"]
        assert item["window_seconds"] == pytest.approx(
            (run["last_batch_at"] - run["cleared_at"]).total_seconds(), abs=1e-3
        )
    after_night1 = platform_lists(env.emulator)

    # -- the platform mails every list: hard bounces and unsubscribes come back as feedback
    # seeds chosen so no list loses more than its guard allows (events_webinars has 9 people: seed 1003
    # took 5 of them, tripping its 50% guard); the emulator meets recipients in id order, so the
    # outcome no longer depends on which concurrent addAll3 batch arrived first
    for list_id in LIST_IDS.values():
        env.emulator.control.send_mailing(
            list_id, bounce_rate=0.08, unsubscribe_rate=0.08, soft_bounce_rate=0.05, seed=list_id + 1
        )
    unsubscribed = {e["recipient_id"] for e in env.emulator.control.events(kind="unsubscribe")["events"]}
    bounced = {
        e["recipient_id"]
        for e in env.emulator.control.events(kind="response")["events"]
        if e["category"] == "hardbounce"
    }
    gone = (unsubscribed | bounced) & {rid for rows in after_night1.values() for rid in rows}
    assert len(gone) >= 5, "the mailings must produce feedback about people on the lists"

    # -- a dry run: extracts, validates and reports; the platform and the CRM's feedback state are untouched
    platform_before, crm_before = emulator_state(env.emulator), crm_feedback_state(env.engine)
    writes_before = calls(env.emulator, "Recipient.clear"), calls(env.emulator, "Recipient.addAll3")
    dry = run_dag(dry_run=True)
    assert dry.state == "success"
    assert emulator_state(env.emulator) == platform_before
    assert crm_feedback_state(env.engine) == crm_before
    assert (calls(env.emulator, "Recipient.clear"), calls(env.emulator, "Recipient.addAll3")) == writes_before
    assert asset_events(dry.run_id) == {}
    status, report = summary(env.engine, dry.run_id)
    assert status == "success" and report["dry_run"] and not report["feedback_ok"]
    assert {item["list_name"]: item["status"] for item in report["lists"]} == dict.fromkeys(
        LIST_IDS, "dry_run"
    )
    assert {item["list_name"]: item["platform_count"] for item in report["lists"]} == {
        name: len(rows) for name, rows in after_night1.items()
    }

    # -- night 2: feedback first, so nobody who unsubscribed or hard-bounced is added again
    night2 = run_dag()
    assert night2.state == "success"
    assert_lists_equal_snapshots(env, night2.run_id)
    after_night2 = platform_lists(env.emulator)
    for name, rows in after_night2.items():
        assert not set(rows) & (unsubscribed | bounced), name
    runs2 = list_runs(env.engine, night2.run_id)
    assert sum(r["excluded"]["unsubscribed"] + r["excluded"]["entity_bounced"] for r in runs2.values()) > sum(
        r["excluded"]["unsubscribed"] + r["excluded"]["entity_bounced"] for r in runs1.values()
    )
    with env.engine.connect() as conn:
        marked = set(
            conn.execute(sa.select(t.crm_entity.c.entity_id).where(t.crm_entity.c.is_bounced)).scalars()
        )
    assert bounced & {rid for rows in after_night1.values() for rid in rows} <= marked

    # -- night 3, nothing new: the same final state (lists, snapshots, CRM)
    crm_after_night2 = crm_feedback_state(env.engine)
    night3 = run_dag()
    assert night3.state == "success"
    assert platform_lists(env.emulator) == after_night2
    runs3 = list_runs(env.engine, night3.run_id)
    for name in LIST_IDS:
        assert snapshot_list(env.engine, runs3[name]["list_run_id"]) == snapshot_list(
            env.engine, runs2[name]["list_run_id"]
        )
    crm_after_night3 = crm_feedback_state(env.engine)
    for table in ("crm_entity", "crm_consent", "crm_blocklist", "feedback_bounce", "feedback_unsubscribe"):
        assert crm_after_night3[table] == crm_after_night2[table], table
    assert notifications(env) == []


@pytest.mark.e2e
@pytest.mark.slow
def test_a_tripped_guard_leaves_its_list_untouched_the_others_sync_and_force_overrides(env):
    lists = ["newsletter_nl", "events_webinars"]
    night1 = run_dag(lists=lists)
    assert night1.state == "success"
    assert set(list_runs(env.engine, night1.run_id)) == set(lists)
    events_list = list_runs(env.engine, night1.run_id)["events_webinars"]
    newsletter = list_runs(env.engine, night1.run_id)["newsletter_nl"]
    before = platform_lists(env.emulator)

    # The CRM loses most 'events' consents (a broken import upstream?) -- and one newsletter consent.
    keep_one = sorted(snapshot_list(env.engine, events_list["list_run_id"]))[0]
    leaving = sorted(snapshot_list(env.engine, newsletter["list_run_id"]))[0]
    with env.engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent)
            .where(t.crm_consent.c.consent_id == "events", t.crm_consent.c.entity_id != keep_one)
            .values(status="revoked")
        )
        conn.execute(
            sa.update(t.crm_consent)
            .where(t.crm_consent.c.consent_id == "newsletter", t.crm_consent.c.entity_id == leaving)
            .values(status="revoked")
        )

    night2 = run_dag(lists=lists)
    assert night2.state == "failed"
    states = task_states(night2.run_id)
    assert states[("sync_list.validate", 1)] == ("failed", "events_webinars")
    assert states[("sync_list.refill", 1)][0] == "upstream_failed"
    assert states[("sync_list.refill", 0)] == ("success", "newsletter_nl")
    assert states[("report", -1)][0] == "failed"
    # the guarded list is exactly as it was; the other list synced without the revoked person
    assert platform_list(env.emulator, 1003) == before["events_webinars"]
    assert_lists_equal_snapshots(env, night2.run_id, names=["newsletter_nl"])
    assert leaving in before["newsletter_nl"] and leaving not in platform_list(env.emulator, 1001)
    status, report = summary(env.engine, night2.run_id)
    assert status == "failed" and report["failed_lists"] == ["events_webinars"]
    guarded = next(item for item in report["lists"] if item["list_name"] == "events_webinars")
    assert guarded["status"] == "guarded" and guarded["validated"] == 0 and guarded["uploaded"] is None
    assert any("shrinks by at most 50%" in failure for failure in guarded["validation_failures"])
    assert set(asset_events(night2.run_id)) == {"optimizely_list_1001"}
    failed = {(n["task_id"], n["rendered_map_index"]) for n in notifications(env)}
    assert ("sync_list.validate", "events_webinars") in failed and ("report", None) in failed

    # forced past the guard, for that list only: the shrink goes through, logged and audited
    night3 = run_dag(lists=["events_webinars"], force=True)
    assert night3.state == "success"
    assert_lists_equal_snapshots(env, night3.run_id, names=["events_webinars"])
    assert set(platform_list(env.emulator, 1003)) == {keep_one}
    status, report = summary(env.engine, night3.run_id)
    assert status == "success" and report["forced"]
    assert report["lists"][0]["forced"] and report["lists"][0]["validation_failures"] == []
    assert list_runs(env.engine, night3.run_id)["events_webinars"]["guard"]["forced"] is True


# ------------------------------------------------------------------ task bodies, without a DAG run


@pytest.fixture
def task_env(staging_url, staging_engine, optimizely_emulator, monkeypatch):
    """The CRM of the refill tests (language nl, so newsletter_nl selects it) and both connections."""
    from tests.integration.sync.scenario import build_crm

    build_crm(staging_engine, 12)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
        json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": staging_url}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPTIMIZELY_CAMPAIGN_DEFAULT",
        json.dumps(
            {
                "conn_type": "optimizely_campaign",
                "host": optimizely_emulator.base_url,
                "login": "demo",
                "password": "demo",
                "extra": {"mandator_id": 1},
            }
        ),
    )
    return staging_engine


def _extract_newsletter(engine: sa.Engine) -> int:
    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.extract import extract_snapshot

    return extract_snapshot(engine, load_lists().get("newsletter_nl"), run_id="run-1").list_run_id


@pytest.mark.parametrize("status", ["refilling", "synced"])
def test_validate_cleared_after_the_refill_started_passes_without_touching_the_run(task_env, status):
    """Clearing 'validate' (and downstream) in the UI after a refill failed half-way must let the
    refill's retry finish the list, not fail on a snapshot that can no longer be re-validated."""
    from crm_sync_airflow import sync_tasks

    from tests.integration.sync.scenario import list_run_row, set_status

    list_run_id = _extract_newsletter(task_env)
    set_status(task_env, list_run_id, status)
    before = list_run_row(task_env, list_run_id)

    result = sync_tasks.validate({"params": {}, "run_id": "run-1"}, "newsletter_nl")

    assert result == {"list_run_id": list_run_id, "status": status, "forced": False}
    assert list_run_row(task_env, list_run_id) == before


def test_a_refill_that_is_not_allowed_fails_without_retries(task_env, optimizely_emulator):
    from airflow.sdk.exceptions import AirflowFailException
    from crm_sync_airflow import sync_tasks

    _extract_newsletter(task_env)  # extracted, never validated
    with pytest.raises(AirflowFailException, match="only a validated snapshot"):
        sync_tasks.refill({"params": {}, "run_id": "run-1"}, "newsletter_nl", alias=None)
    assert (
        calls(optimizely_emulator, "Recipient.clear") == calls(optimizely_emulator, "Recipient.addAll3") == 0
    )
