"""The demo's Spotler and Flexmail side (scripts/demo_platforms.py) against the real emulators over
HTTP on loopback: the connections it gives Airflow reach them through the project's hooks, the
feedback it makes between the nights lands on the platforms, and its summary lines count what
changed on the platforms."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from crm_sync_airflow.hooks.flexmail import FlexmailHook
from crm_sync_airflow.hooks.spotler import SpotlerHook

from include.crm_sync.staging.engine import create_staging_engine
from include.crm_sync.staging.migrate import upgrade
from scripts import demo_platforms as platforms

SEEDED_CARRIER = "an.peeters@example.com"  # the Flexmail emulator's default seed: label Honden


@pytest.fixture(scope="module")
def emulators():
    with platforms.platform_emulators() as running:
        yield running


def test_the_demo_connections_reach_its_emulators(emulators, monkeypatch) -> None:
    for name, value in platforms.connections_env(emulators).items():
        monkeypatch.setenv(name, value)

    ok, message = SpotlerHook().test_connection()
    assert ok, message
    ok, message = FlexmailHook().test_connection()
    assert ok and "3 interest labels" in message, message
    # the token bucket spends under the emulator's raised limit, as 55 is under Flexmail's 60
    extra = json.loads(platforms.connections_env(emulators)["AIRFLOW_CONN_FLEXMAIL_DEFAULT"])["extra"]
    limit = emulators.flexmail.control.state(contacts=False)["rate"]["limit"]
    assert extra["requests_per_minute"] < limit == platforms.FLEXMAIL_REQUESTS_PER_MINUTE


def test_clocks_follow_the_story(emulators) -> None:
    moment = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    platforms.set_clocks(emulators, moment)
    for emulator in (emulators.spotler, emulators.flexmail):
        # running on from the moment set: within the minute, however slow the machine
        assert 0 <= emulator.clock.now() - moment.timestamp() < 60


def test_platform_feedback_and_night_lines(emulators, tmp_path) -> None:
    honden = platforms.DemoList("honden_flexmail", "flexmail", "Honden")
    audience = platforms.DemoList("newsletter_spotler", "spotler", "not-created-yet")
    before = {lst.name: platforms.members(emulators, lst) for lst in (honden, audience)}
    assert before == {"honden_flexmail": {SEEDED_CARRIER}, "newsletter_spotler": set()}

    lines = platforms.make_platform_feedback(emulators, [honden, audience])

    assert lines == [
        "flexmail honden_flexmail: a***@e***.com unsubscribes in Flexmail (blacklist)",
        "spotler newsletter_spotler: nobody in the list, nothing to change",
    ]
    contact = next(c for c in emulators.flexmail.control.state()["contacts"] if c["email"] == SEEDED_CARRIER)
    assert contact["status"] == "unsubscribed"

    url = f"sqlite:///{tmp_path / 'staging.db'}"
    upgrade(url)
    engine = create_staging_engine(url)
    after = {"honden_flexmail": set(), "newsletter_spotler": {"1", "2"}}
    results = platforms.night_results(engine, "no-such-run", [honden, audience], before, after)
    engine.dispose()

    assert [(r.added, r.removed, r.members) for r in results] == [(0, 1, 0), (2, 0, 2)]
    assert (
        results[0].line().split()
        == (
            "flexmail honden_flexmail label 'Honden': imported 0 (all labels), labels added 0, "
            "labels removed 1, removal backlog 0; 0 carry it"
        ).split()
    )
    assert "added 2, removed 0, refused 0; 2 members" in results[1].line()
