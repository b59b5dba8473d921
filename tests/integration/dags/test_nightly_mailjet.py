"""``crm_campaign_sync`` with an Optimizely list and two Mailjet lists (newsletter, service) end to end
with ``dag.test()``: both emulators over real HTTP, a generated CRM on SQLite and PostgreSQL.

Nights in a row (each ``dag.test()`` costs seconds): night 1 fills all three lists; in Mailjet someone
unsubscribes from the newsletter list and someone new signs up; night 2 applies the unsubscribe before
the sync (newsletter consent revoked, service consent kept) and never re-adds the person, and keeps the
sign-up (the pre-step put it in the CRM before the extraction); night 3 runs with refused Mailjet keys:
the Mailjet feedback import fails, the Mailjet lists stop untouched, the Optimizely list still syncs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from include.crm_sync.generate import generate
from include.crm_sync.staging import tables as t
from include.crm_sync.staging.engine import create_staging_engine
from include.emulators.mailjet import MailjetEmulatorServer
from tests.integration.dags.nightly import run_dag, task_states
from tests.integration.sync.scenario import expected_list, platform_list

KEY, SECRET = "mj-key", "mj-secret"
NEWS, SERVICE = "CRM newsletter", "CRM service"
MAILJET_LISTS = {"news_mj": (NEWS, "newsletter"), "service_mj": (SERVICE, "service")}
LISTS_YAML = f"""
lists:
  - name: newsletter_nl
    platform: optimizely
    platform_list_id: "1001"
    optin_process_id: "2001"
    consent: newsletter
    selection: {{filter: {{entity_types: [contact, lead], languages: [nl]}}}}
    attributes: {{first-name: first_name}}
  - name: news_mj
    platform: mailjet
    consent: newsletter
    mailjet_list: {{name: "{NEWS}"}}
    selection: {{filter: {{}}}}
  - name: service_mj
    platform: mailjet
    consent: service
    mailjet_list: {{name: "{SERVICE}"}}
    selection: {{filter: {{}}}}
"""


@dataclass
class Env:
    engine: sa.Engine
    optimizely: Any
    mailjet: MailjetEmulatorServer


@pytest.fixture(scope="module")
def mailjet_server() -> Iterator[MailjetEmulatorServer]:
    with MailjetEmulatorServer(api_key=KEY, secret_key=SECRET) as server:
        yield server


def _mailjet_connection(server: MailjetEmulatorServer, secret: str = SECRET) -> str:
    return json.dumps(
        {
            "conn_type": "mailjet",
            "host": server.api_url,
            "login": KEY,
            "password": secret,
            "extra": {"max_attempts": 2, "job_poll_interval": 0.05, "job_max_wait": 60},
        }
    )


@pytest.fixture
def env(staging_url, optimizely_emulator, mailjet_server, airflow_db, tmp_path, monkeypatch) -> Iterator[Env]:
    mailjet_server.control.reset()
    generate(staging_url, contacts=150, seed=11)
    lists_file = tmp_path / "lists.yaml"
    lists_file.write_text(LISTS_YAML)
    monkeypatch.setenv("CRM_SYNC_LISTS_FILE", str(lists_file))
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
                "extra": {"mandator_id": 1, "batch_size": 50, "max_parallel_calls": 2},
            }
        ),
    )
    monkeypatch.setenv("AIRFLOW_CONN_MAILJET_DEFAULT", _mailjet_connection(mailjet_server))
    monkeypatch.setenv("CRM_SYNC_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv(
        "CRM_SYNC_FAILURE_NOTIFIER", "tests.integration.dags.recording_notifier:RecordingNotifier"
    )
    monkeypatch.setenv("CRM_SYNC_TEST_NOTIFICATIONS", str(tmp_path / "notifications.jsonl"))
    engine = create_staging_engine(staging_url)
    yield Env(engine, optimizely_emulator, mailjet_server)
    engine.dispose()


def list_runs(engine: sa.Engine, run_id: str) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.list_run).where(t.list_run.c.run_id == run_id)).mappings()
        return {r["list_name"]: dict(r) for r in rows}


def snapshot_emails(engine: sa.Engine, list_run_id: int) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.list_snapshot.c.email).where(t.list_snapshot.c.list_run_id == list_run_id)
        )
        return {email for (email,) in rows}


def granted(engine: sa.Engine, consent: str) -> set[str]:
    """Addresses (normalised) of the entities holding ``consent``."""
    e, c = t.crm_entity, t.crm_consent
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(e.c.email_normalized)
            .join(c, c.c.entity_id == e.c.entity_id)
            .where(c.c.consent_id == consent, c.c.status == "granted", e.c.email_normalized.is_not(None))
        )
        return {email for (email,) in rows}


def consent_of(engine: sa.Engine, email: str) -> dict[str, str]:
    e, c = t.crm_entity, t.crm_consent
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.c.consent_id, c.c.status)
            .join(e, c.c.entity_id == e.c.entity_id)
            .where(e.c.email_normalized == email)
        )
        return dict(rows.all())


def subscribed(server: MailjetEmulatorServer, name: str) -> set[str]:
    return {email for email, m in server.control.members(name).items() if not m["unsubscribed"]}


def assert_mailjet_lists_hold_their_snapshots(env: Env, run_id: str) -> None:
    runs = list_runs(env.engine, run_id)
    for list_name, (mailjet_list, consent) in MAILJET_LISTS.items():
        row = runs[list_name]
        assert row["status"] == "synced", (list_name, row["status"], row["error"])
        members = subscribed(env.mailjet, mailjet_list)
        assert members == snapshot_emails(env.engine, row["list_run_id"]) and members, list_name
        # one consent per list: everyone subscribed holds THIS list's consent in the CRM
        assert members <= granted(env.engine, consent), list_name


def test_mailjet_lists_in_the_nightly_sync(env, monkeypatch):
    # ---- night 1: all three lists filled; the two consents never mix
    night1 = run_dag()
    assert night1.state == "success", task_states(night1.run_id)
    states = task_states(night1.run_id)
    assert states[("import_feedback", "mailjet")] == states[("import_feedback", "optimizely")] == "success"
    assert_mailjet_lists_hold_their_snapshots(env, night1.run_id)
    news, service = subscribed(env.mailjet, NEWS), subscribed(env.mailjet, SERVICE)
    service_only = granted(env.engine, "service") - granted(env.engine, "newsletter")
    news_only = granted(env.engine, "newsletter") - granted(env.engine, "service")
    assert service_only & service and not service_only & news  # the generator makes both kinds
    assert news_only & news and not news_only & service
    optimizely = list_runs(env.engine, night1.run_id)["newsletter_nl"]
    assert optimizely["status"] == "synced"
    assert platform_list(env.optimizely, 1001) == expected_list(env.engine, optimizely["list_run_id"])
    assert "action.addforce" not in env.mailjet.control.calls()

    # ---- in Mailjet, during the day: an unsubscribe from the newsletter list, a sign-up
    leaver = sorted(news & service)[0]
    env.mailjet.control.unsubscribe(NEWS, leaver)
    env.mailjet.control.signup(NEWS, "Fresh.Signup@Example.org")

    # ---- night 2: the unsubscribe comes back first and is never undone; the sign-up stays
    night2 = run_dag()
    assert night2.state == "success", task_states(night2.run_id)
    assert consent_of(env.engine, leaver)["newsletter"] == "revoked"
    assert consent_of(env.engine, leaver)["service"] == "granted"  # a list unsubscribe is that list's only
    assert leaver not in subscribed(env.mailjet, NEWS)  # unsubscribed there, or removed: never re-added
    assert leaver in subscribed(env.mailjet, SERVICE)
    # the sign-up reached the CRM before the extraction, so the reconcile did not remove it
    assert "fresh.signup@example.org" in subscribed(env.mailjet, NEWS)
    assert consent_of(env.engine, "fresh.signup@example.org") == {"newsletter": "granted"}
    assert_mailjet_lists_hold_their_snapshots(env, night2.run_id)
    assert "action.addforce" not in env.mailjet.control.calls()

    # ---- night 3: Mailjet refuses the keys -> its feedback import fails, its lists stop, not the others
    before = {name: env.mailjet.control.members(name) for name in (NEWS, SERVICE)}
    monkeypatch.setenv("AIRFLOW_CONN_MAILJET_DEFAULT", _mailjet_connection(env.mailjet, secret="wrong"))
    night3 = run_dag()
    assert night3.state == "failed"
    states = task_states(night3.run_id)
    assert states[("import_feedback", "mailjet")] == "failed"
    assert states[("import_feedback", "optimizely")] == "success"
    assert states[("sync_list.extract", "news_mj")] == states[("sync_list.extract", "service_mj")] == "failed"
    assert states[("sync_list.refill", "newsletter_nl")] == "success"
    runs = list_runs(env.engine, night3.run_id)
    assert runs["newsletter_nl"]["status"] == "synced" and set(runs) == {"newsletter_nl"}
    assert {name: env.mailjet.control.members(name) for name in (NEWS, SERVICE)} == before
    with env.engine.connect() as conn:
        report = conn.execute(
            sa.select(t.sync_run.c.summary).where(t.sync_run.c.run_id == night3.run_id)
        ).scalar_one()
    assert sorted(report["failed_lists"]) == ["news_mj", "service_mj"]
