"""The demo's Mailjet side (scripts/demo_mailjet.py, scripts/demo_platforms.py) against the real
emulator over HTTP on loopback: the seed of existing contacts it writes from the generated CRM, the
connection it gives Airflow, what people do in Mailjet between the nights, and the night's line."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from crm_sync_airflow.hooks.mailjet import MailjetHook

from include.crm_sync.generate import generate
from include.crm_sync.staging.engine import create_staging_engine
from include.crm_sync.staging.migrate import upgrade
from scripts import demo_mailjet as mailjet
from scripts import demo_platforms as platforms

LISTS = [
    mailjet.MailjetDemoList("newsletter_mailjet", "CRM newsletter", "newsletter"),
    mailjet.MailjetDemoList("service_mailjet", "CRM service messages", "service"),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('demo-mailjet') / 'staging.db'}"
    upgrade(url)
    generate(url, contacts=2000, seed=11)  # 400 leads: enough for both lists
    engine = create_staging_engine(url)
    yield engine
    engine.dispose()


def test_the_seed_is_repeatable_and_holds_the_existing_contacts(engine, tmp_path) -> None:
    first = mailjet.write_seed(engine, LISTS, tmp_path / "a.yaml").read_text()
    assert mailjet.write_seed(engine, LISTS, tmp_path / "b.yaml").read_text() == first  # same CRM, same seed
    with platforms.platform_emulators(tmp_path / "a.yaml") as emulators:
        news = emulators.mailjet.control.members("CRM newsletter")
        wanted = mailjet.SEED_CRM_PEOPLE + mailjet.SEED_NEW_ADDRESSES
        service = emulators.mailjet.control.members("CRM service messages")
        assert len(news) == len(service) == wanted
        assert sum(m["unsubscribed"] for m in news.values()) == mailjet.SEED_UNSUBSCRIBED
        assert sum(m["excluded"] for m in news.values()) == mailjet.SEED_EXCLUDED
        # seeded a month back, then the emulator runs on the real clock (the tasks compare with theirs)
        assert abs(emulators.mailjet.emulator.clock.now() - time.time()) < 60
        recipient = emulators.mailjet.state.memberships[next(iter(emulators.mailjet.state.memberships))]
        assert time.time() - recipient.subscribed_at > mailjet.SEED_AGE_SECONDS - 60


def test_connection_feedback_and_night_line(engine, tmp_path, monkeypatch) -> None:
    seed = mailjet.write_seed(engine, LISTS, tmp_path / "seed.yaml")
    with platforms.platform_emulators(seed) as emulators:
        for name, value in platforms.connections_env(emulators).items():
            monkeypatch.setenv(name, value)
        ok, message = MailjetHook().test_connection()
        assert ok, message

        lst = platforms.DemoList("newsletter_mailjet", "mailjet", "CRM newsletter", "newsletter")
        before = {lst.name: platforms.members(emulators, lst)}
        lines = mailjet.make_mailjet_feedback(emulators.mailjet, LISTS)
        assert [line.split(":")[0] for line in lines] == ["mailjet newsletter_mailjet"] * 3
        assert "unsubscribes from the list" in lines[0] and "excluded from all campaigns" in lines[1]
        members = emulators.mailjet.control.members("CRM newsletter")
        assert members[mailjet.SIGNUP_ADDRESS]["unsubscribed"] is False
        after = {lst.name: platforms.members(emulators, lst)}

        (result,) = platforms.night_results(engine, "no-such-run", [lst], before, after, datetime.now(UTC))
        assert (result.added, result.removed, result.signups, result.unsubscribes) == (1, 0, 0, 0)
        assert (
            "imported from Mailjet 0, unsubscribes applied 0 (all lists), added 1, removed 0; "
            f"{len(after[lst.name])} members"
        ) in result.line()
