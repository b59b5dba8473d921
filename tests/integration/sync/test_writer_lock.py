"""The writer lock on SQLite and PostgreSQL: one holder, a bounded wait naming the holder, leases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from include.crm_sync.staging.tables import writer_lock
from include.crm_sync.sync.writer_lock import (
    Lease,
    LeaseLost,
    LockKey,
    LockSettings,
    WriterLockBusy,
    hold_writer_lock,
    try_acquire,
)

KEY = LockKey.platform_list("optimizely", "1001")
T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def settings(clock: Clock, **overrides) -> LockSettings:
    values = {"lease_seconds": 600, "wait_seconds": 0, "poll_seconds": 0.01, "clock": clock}
    return LockSettings(**(values | overrides))


def rows(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(writer_lock.c.platform, writer_lock.c.resource, writer_lock.c.holder)
            )
        ]


def test_a_second_writer_fails_naming_the_holder_and_gets_the_lock_once_it_is_released(staging_engine):
    clock = Clock()
    with hold_writer_lock(
        staging_engine,
        KEY,
        owner="list_run:1",
        holder="run night-1, list a (list run 1)",
        settings=settings(clock),
    ):
        with pytest.raises(
            WriterLockBusy, match=r"holds the lock: run night-1, list a \(list run 1\)"
        ) as info:
            with hold_writer_lock(
                staging_engine, KEY, owner="list_run:2", holder="run night-2", settings=settings(clock)
            ):
                pytest.fail("two writers held one platform list")
        assert info.value.holder == "run night-1, list a (list run 1)"
        # another platform list, and the platform's feedback lock, are independent
        with hold_writer_lock(
            staging_engine,
            LockKey.platform_list("optimizely", "1002"),
            owner="x",
            holder="x",
            settings=settings(clock),
        ):
            pass
        with hold_writer_lock(
            staging_engine, LockKey.feedback("optimizely"), owner="y", holder="y", settings=settings(clock)
        ):
            pass
    assert rows(staging_engine) == []
    with hold_writer_lock(
        staging_engine, KEY, owner="list_run:2", holder="run night-2", settings=settings(clock)
    ):
        assert rows(staging_engine) == [("optimizely", "list:1001", "run night-2")]


def test_a_waiting_writer_gets_the_lock_when_the_holder_finishes(staging_engine):
    clock = Clock()
    waiting = threading.Event()
    release = threading.Event()
    got: list[str] = []

    def sleep(seconds: float) -> None:  # the waiter's poll: say "I am waiting", then wait a little
        waiting.set()
        release.wait(seconds)

    def second() -> None:
        with hold_writer_lock(
            staging_engine,
            KEY,
            owner="list_run:2",
            holder="second",
            settings=settings(clock, wait_seconds=120, sleep=sleep),
        ):
            got.append("second")

    with hold_writer_lock(staging_engine, KEY, owner="list_run:1", holder="first", settings=settings(clock)):
        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(60)
        assert got == []  # it waits while the first holds the lock
    release.set()
    thread.join(60)
    assert got == ["second"]


def test_a_crashed_holder_loses_the_lock_when_its_lease_ends(staging_engine):
    clock = Clock()
    crashed = try_acquire(
        staging_engine,
        KEY,
        owner="list_run:1",
        holder="run night-1",
        settings=settings(clock, lease_seconds=600),
    )
    assert isinstance(crashed, Lease)  # held; never released (kill -9)

    clock.now = T0 + timedelta(seconds=599)
    with pytest.raises(WriterLockBusy, match="run night-1"):
        with hold_writer_lock(
            staging_engine, KEY, owner="list_run:2", holder="run night-2", settings=settings(clock)
        ):
            pass
    clock.now = T0 + timedelta(seconds=601)
    with hold_writer_lock(
        staging_engine, KEY, owner="list_run:2", holder="run night-2", settings=settings(clock)
    ):
        assert rows(staging_engine) == [("optimizely", "list:1001", "run night-2")]
        # the crashed holder, should it wake up, finds out before its next write
        with pytest.raises(LeaseLost, match="run night-2"):
            crashed.renew(force=True)
    assert rows(staging_engine) == []


def test_a_renewed_lease_is_kept_and_the_same_owner_takes_its_own_lock_over(staging_engine):
    clock = Clock()
    lease = try_acquire(staging_engine, KEY, owner="list_run:1", holder="try 1", settings=settings(clock))
    clock.now = T0 + timedelta(seconds=500)
    lease.renew()  # more than a quarter lease since the last renewal: extended to T0 + 1100 s
    clock.now = T0 + timedelta(seconds=700)
    with pytest.raises(WriterLockBusy, match="try 1"):
        with hold_writer_lock(
            staging_engine, KEY, owner="list_run:2", holder="other", settings=settings(clock)
        ):
            pass
    # the retry of the same list run (its earlier try was killed) does not wait out its own lease
    with hold_writer_lock(staging_engine, KEY, owner="list_run:1", holder="try 2", settings=settings(clock)):
        assert rows(staging_engine) == [("optimizely", "list:1001", "try 2")]
        with pytest.raises(LeaseLost):
            lease.renew(force=True)


def test_keep_alive_renews_the_lease_while_the_block_runs(staging_engine):
    """The feedback import cannot renew as it progresses: a thread renews for it until the block ends."""
    clock = Clock()
    lease_seconds = 0.2  # renewed every 0.05 s of real time, stamped with the test's clock
    with hold_writer_lock(
        staging_engine,
        LockKey.feedback("optimizely"),
        owner="feedback:run-1",
        holder="run-1",
        settings=settings(clock, lease_seconds=lease_seconds),
        keep_alive=True,
    ):
        clock.now = T0 + timedelta(hours=1)
        wanted = clock.now + timedelta(seconds=lease_seconds)
        for _ in range(6000):  # until the thread has renewed once with the new time (no fixed sleep)
            with staging_engine.connect() as conn:
                if conn.execute(sa.select(writer_lock.c.expires_at)).scalar_one() == wanted:
                    break
            threading.Event().wait(0.01)
        else:
            pytest.fail("the lease was never renewed")
    assert rows(staging_engine) == []
