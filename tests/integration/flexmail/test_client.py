"""The Flexmail client over real HTTP against the emulator: labels, contacts, label removal, imports,
retries on 429 (Retry-After honoured) and 5xx, credentials refused, and the shared rate limit."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from include.crm_sync.platforms.flexmail.client import FlexmailClient, RetryPolicy
from include.crm_sync.platforms.flexmail.errors import FlexmailCredentialsError, FlexmailTransientError
from tests.integration.flexmail.scenario import ACCOUNT, HONDEN, KATTEN, bucket, make_client


def test_labels_contacts_and_label_removal(flexmail):
    client = make_client(None, flexmail)
    assert [(x.id, x.name) for x in client.interest_labels()] == [
        (101, "Honden"),
        (102, "Katten"),
        (103, "Nieuwsbrief"),
    ]
    an = client.find_contact("an.peeters@example.com")
    assert an is not None and an.id == 1 and not an.blacklisted
    assert client.find_contact("nobody@example.com") is None
    assert [c.email for c in client.blacklisted_contacts()] == ["bert.janssens@example.com"]
    assert client.assign_label(1, KATTEN) is True
    assert client.assign_label(1, KATTEN) is False  # 409: already assigned
    assert client.remove_label(1, HONDEN) is True
    assert client.remove_label(1, HONDEN) is False  # 404: not carried (any more)
    assert flexmail.control.label_members(HONDEN) == []


def test_paging_reads_every_blacklisted_contact(flexmail):
    flexmail.control.add_contacts([{"email": f"u{i}@example.com", "blacklisted": True} for i in range(1203)])
    client = make_client(None, flexmail)
    assert len(list(client.blacklisted_contacts())) == 1204
    assert client.calls["blacklisted_contacts"] == 3


def test_import_never_resubscribes_and_reports(flexmail):
    client = make_client(None, flexmail)
    assert client.create_import("imp-1") is True
    assert client.create_import("imp-1") is False
    client.add_import_records(
        "imp-1", [{"email": "bert.janssens@example.com", "interest_labels": [HONDEN], "sources": [1]}]
    )
    client.queue_import("imp-1")
    flexmail.control.advance_clock(60)
    state = client.get_import("imp-1")
    assert state.status == "completed" and state.report == {
        "total_added": 0,
        "total_updated": 0,
        "total_ignored": 1,
    }
    assert "bert.janssens@example.com" not in flexmail.control.label_members(HONDEN)
    assert client.get_import("nope") is None


def test_429_waits_what_retry_after_says(flexmail):
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        flexmail.clock.advance(seconds)

    client = FlexmailClient(flexmail.base_url, ACCOUNT, "pat-secret-token", sleep=sleep, timeout=10)
    for _ in range(61):  # no limiter: the 61st request of the minute is refused, waited for, retried
        client.interest_labels()
    assert waits == [60.0]
    assert flexmail.control.state(contacts=False)["rate"]["refused"] == 1


def test_5xx_retried_then_permanent_errors_raised(flexmail):
    client = make_client(None, flexmail)
    flexmail.control.add_fault("contact_labels.delete", "http503", times=2)
    assert client.remove_label(1, HONDEN) is True
    assert client.calls["remove_label"] == 3
    flexmail.control.add_fault("labels.list", "http500", times=0)
    with pytest.raises(FlexmailTransientError):
        client.interest_labels()
    flexmail.control.clear_faults()
    bad = FlexmailClient(flexmail.base_url, ACCOUNT, "wrong", retry_policy=RetryPolicy(max_attempts=3))
    with pytest.raises(FlexmailCredentialsError) as caught:
        bad.interest_labels()
    assert "wrong" not in str(caught.value) and bad.calls["interest_labels"] == 1


def _two_tasks(staging_url, flexmail, keys):
    """Two tasks at once, each with its own engine, bucket and client, 70 requests each."""
    import sqlalchemy as sa

    from include.crm_sync.staging.engine import create_staging_engine

    errors: list[BaseException] = []
    engines: list[sa.Engine] = []

    def task(key: str) -> None:
        engine = create_staging_engine(staging_url)
        engines.append(engine)
        client = make_client(engine, flexmail, limiter=bucket(engine, flexmail, key=key))
        try:
            for _ in range(70):
                client.find_contact("an.peeters@example.com")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=task, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert not errors, errors
    return flexmail.control.state(contacts=False)["rate"]


def test_two_tasks_share_the_account_limit(staging_url, staging_engine, flexmail):
    rate = _two_tasks(staging_url, flexmail, ["flexmail:4242", "flexmail:4242"])
    assert rate["accepted"] == 140
    assert rate["refused"] == 0 and rate["busiest_window"] <= 60


def test_separate_buckets_would_break_the_limit(staging_url, staging_engine, flexmail):
    # the counter-test: a bucket per task (the mistake the shared bucket prevents) gets 429s
    rate = _two_tasks(staging_url, flexmail, ["task-a", "task-b"])
    assert rate["refused"] > 0


def test_two_task_processes_share_the_account_limit(staging_url, staging_engine, flexmail):
    # two "mapped tasks" as processes, each with its own engine and client; with a bucket per
    # process instead (keys "a", "b") this gets 429s
    command = [sys.executable, "-m", "tests.integration.flexmail.rate_task", staging_url, flexmail.base_url]
    tasks = [subprocess.Popen([*command, "flexmail:4242", "50"]) for _ in range(2)]
    assert [task.wait(timeout=300) for task in tasks] == [0, 0]
    rate = flexmail.control.state(contacts=False)["rate"]
    assert rate["accepted"] == 100
    assert rate["refused"] == 0 and rate["busiest_window"] <= 60
