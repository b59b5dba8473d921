"""One writer per Mailjet list: the incremental run and the nightly membership sync take the same lock
row (``LockKey.platform_list("mailjet", <list name>)``), so when they overlap the second one fails naming
the holder and writes nothing, and the list still ends right once the first has finished.

The overlap is made, not hoped for: the second writer runs inside the first one's lock (from the
nightly's writer guard, or from the incremental run's list lock), so nothing depends on timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from include.crm_sync.mailjet.incremental import run_incremental
from include.crm_sync.mailjet.list_lock import mailjet_list_lock
from include.crm_sync.sync.membership_guard import newest_snapshot_writer_guard
from include.crm_sync.sync.writer_lock import LockSettings, WriterLockBusy
from tests.integration.extract.crm_state import CrmState
from tests.integration.mailjet.scenario import NEWS, insert_people, make_platform, night, write_crm

pytestmark = pytest.mark.usefixtures("mailjet_enabled")
NO_WAIT = LockSettings(wait_seconds=0)


def _now(mailjet) -> datetime:
    return datetime.fromtimestamp(mailjet.emulator.clock.now(), UTC)


def _incremental_lock(engine, run_id: str):
    return mailjet_list_lock(
        engine,
        owner=f"mailjet_incremental_sync:{run_id}",
        holder=f"mailjet_incremental_sync {run_id}",
        settings=NO_WAIT,
    )


def _writes(mailjet) -> int:
    return mailjet.control.calls().get("contactslist.managemanycontacts", 0)


@pytest.fixture
def platform(staging_engine, mailjet, tmp_path):
    write_crm(staging_engine, CrmState().entity("old", "old@example.com"))
    platform = make_platform(mailjet, staging_engine)
    night(staging_engine, platform, "run-1", tmp_path)
    mailjet.control.advance_clock(900)
    new = CrmState().entity("n", "n@example.com")
    for row in new.consents:
        row["updated_at"] = row["granted_at"] = _now(mailjet)
    insert_people(staging_engine, new)
    mailjet.control.advance_clock(60)
    return platform


def test_the_incremental_run_fails_naming_the_nightly_sync_that_holds_the_list(
    staging_engine, mailjet, platform, tmp_path
):
    refused: list[WriterLockBusy] = []
    real_guard = newest_snapshot_writer_guard(staging_engine)

    @contextmanager
    def guard_with_overlap(ctx) -> Iterator[object]:
        with real_guard(ctx) as lease:
            if ctx.platform_list_id == NEWS:  # the incremental run starts while the nightly holds NEWS
                before = _writes(mailjet)
                with pytest.raises(WriterLockBusy) as busy:
                    run_incremental(
                        staging_engine,
                        platform,
                        [(NEWS, "newsletter")],
                        now=_now(mailjet),
                        list_lock=_incremental_lock(staging_engine, "inc-1"),
                    )
                assert _writes(mailjet) == before  # it wrote nothing
                refused.append(busy.value)
            yield lease

    result = night(staging_engine, platform, "run-2", tmp_path, writer_guard=guard_with_overlap)
    assert len(refused) == 1
    assert "run run-2, list news_mj" in refused[0].holder and "run-2" in str(refused[0])
    assert result.reports["news_mj"].added == 1
    # the retry after the night: the list ends right, nothing added twice
    again = run_incremental(
        staging_engine,
        platform,
        [(NEWS, "newsletter")],
        now=_now(mailjet),
        list_lock=_incremental_lock(staging_engine, "inc-1"),
    )
    assert again[0].profiles_added == 0
    assert set(mailjet.control.members(NEWS)) == {"old@example.com", "n@example.com"}


def test_the_nightly_sync_fails_naming_the_incremental_run_that_holds_the_list(
    staging_engine, mailjet, platform, tmp_path
):
    refused: list[WriterLockBusy] = []
    real_lock = _incremental_lock(staging_engine, "inc-2")

    @contextmanager
    def lock_with_overlap(name: str) -> Iterator[object]:
        with real_lock(name) as lease:
            before = _writes(mailjet)
            with pytest.raises(WriterLockBusy) as busy:  # the night's NEWS sync starts meanwhile
                night(
                    staging_engine,
                    platform,
                    "run-2",
                    tmp_path,
                    only="news_mj",
                    writer_guard=newest_snapshot_writer_guard(staging_engine, settings=NO_WAIT),
                )
            assert _writes(mailjet) == before
            refused.append(busy.value)
            yield lease

    reports = run_incremental(
        staging_engine, platform, [(NEWS, "newsletter")], now=_now(mailjet), list_lock=lock_with_overlap
    )
    assert "mailjet_incremental_sync inc-2, Mailjet list CRM newsletter" in refused[0].holder
    assert reports[0].profiles_added == 1
    # the night's retry (a fresh run here) after the incremental run: nothing to add, nothing removed
    mailjet.control.advance_clock(60)
    result = night(
        staging_engine,
        platform,
        "run-3",
        tmp_path,
        only="news_mj",
        writer_guard=newest_snapshot_writer_guard(staging_engine, settings=NO_WAIT),
    )
    assert result.reports["news_mj"].added == result.reports["news_mj"].removed == 0
    assert set(mailjet.control.members(NEWS)) == {"old@example.com", "n@example.com"}
