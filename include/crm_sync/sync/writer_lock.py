"""One writer at a time per platform list (and per platform's feedback import): a lock row with a lease.

A refill holds the lock of its platform list from before ``clear`` to the final count check; a
second writer -- another run's refill of the same platform list, however its list is named --
waits a bounded time, then fails with a message naming the holder. A feedback import holds its
platform's ``feedback`` lock, so two imports of one platform never interleave.

Why a lock row with a lease rather than a PostgreSQL advisory lock:

* one implementation, the same on SQLite (the embedded default) and PostgreSQL, tested on both;
* the row names its holder (run, list, list run), so the waiting writer's error says who holds it
  -- an advisory lock only knows a backend pid;
* an advisory lock lives in one database session: the refill's work is spread over several pooled
  connections and hours of platform calls, and a dropped connection would silently free the lock
  while the holder goes on uploading. A lease is lost only by a holder that stops renewing it (it
  crashed or hangs); the holder renews it as the refill progresses, and a renewal that finds the
  lease taken over stops the holder before its next platform call (fencing by ``token``).

Taking the lock is one atomic upsert: insert the row, or take over the existing row when its
lease has expired or it belongs to the same ``owner`` (a retry of the same list run, after a
``kill -9`` that left the row behind: the retry must not wait out the lease of its own dead try).
Lease times come from the workers' clocks; leases of minutes dwarf the skew of NTP-kept machines.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from include.crm_sync.staging.tables import writer_lock

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WriterLockBusy(RuntimeError):
    """Another writer held the lock for longer than this one may wait."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class LeaseLost(RuntimeError):
    """The lease ran out and another writer took the lock over: stop writing."""


@dataclass(frozen=True)
class LockKey:
    platform: str
    resource: str

    @classmethod
    def platform_list(cls, platform: str, platform_list_id: str) -> LockKey:
        return cls(platform, f"list:{platform_list_id}")

    @classmethod
    def feedback(cls, platform: str) -> LockKey:
        return cls(platform, "feedback")

    def __str__(self) -> str:
        return f"{self.platform} {self.resource}"


@dataclass(frozen=True)
class LockSettings:
    #: a holder that does not renew for this long loses the lock
    lease_seconds: float = 600.0
    #: how long a second writer waits for the lock before it fails
    wait_seconds: float = 300.0
    #: how often a waiting writer tries again
    poll_seconds: float = 2.0
    clock: Callable[[], datetime] = field(default=_utc_now)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def __post_init__(self) -> None:
        if self.lease_seconds <= 0 or self.wait_seconds < 0 or self.poll_seconds <= 0:
            raise ValueError(
                "lease_seconds and poll_seconds must be > 0 and wait_seconds >= 0, got "
                f"{self.lease_seconds}, {self.poll_seconds}, {self.wait_seconds}"
            )


@dataclass(frozen=True)
class HeldBy:
    """Who holds a lock, as its row says."""

    holder: str
    acquired_at: datetime
    expires_at: datetime


class Lease:
    """A held lock: renew it while working, release it when done."""

    def __init__(
        self, engine: sa.Engine, key: LockKey, token: str, holder: str, settings: LockSettings
    ) -> None:
        self.engine = engine
        self.key = key
        self.token = token
        self.holder = holder
        self.settings = settings
        self._renewed_at = settings.clock()

    def renew(self, *, force: bool = False) -> None:
        """Extend the lease (at most every quarter lease unless ``force``); ``LeaseLost`` if taken over."""
        now = self.settings.clock()
        if not force and (now - self._renewed_at).total_seconds() < self.settings.lease_seconds / 4:
            return
        with self.engine.begin() as conn:
            updated = conn.execute(
                sa.update(writer_lock)
                .where(*_key_clause(self.key), writer_lock.c.token == self.token)
                .values(renewed_at=now, expires_at=now + timedelta(seconds=self.settings.lease_seconds))
            ).rowcount
            current = None if updated else _held_by(conn, self.key)
        if not updated:
            by = f"{current.holder} since {current.acquired_at.isoformat()}" if current else "nobody"
            raise LeaseLost(
                f"{self.key}: the lease of {self.holder} ran out and the lock is now held by {by}; "
                "stopping before the next write"
            )
        self._renewed_at = now

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.delete(writer_lock).where(*_key_clause(self.key), writer_lock.c.token == self.token)
            )


def _key_clause(key: LockKey) -> tuple[sa.ColumnElement[bool], ...]:
    return writer_lock.c.platform == key.platform, writer_lock.c.resource == key.resource


def _held_by(conn: sa.Connection, key: LockKey) -> HeldBy | None:
    row = conn.execute(
        sa.select(writer_lock.c.holder, writer_lock.c.acquired_at, writer_lock.c.expires_at).where(
            *_key_clause(key)
        )
    ).first()
    return HeldBy(row.holder, row.acquired_at, row.expires_at) if row else None


def try_acquire(
    engine: sa.Engine, key: LockKey, *, owner: str, holder: str, settings: LockSettings
) -> Lease | HeldBy:
    """Take the lock if it is free, expired or ``owner``'s own; else say who holds it."""
    now = settings.clock()
    token = uuid.uuid4().hex
    values = {
        "platform": key.platform,
        "resource": key.resource,
        "owner": owner,
        "holder": holder[:500],
        "token": token,
        "acquired_at": now,
        "renewed_at": now,
        "expires_at": now + timedelta(seconds=settings.lease_seconds),
    }
    with engine.begin() as conn:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(writer_lock)
        stmt = insert.values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[writer_lock.c.platform, writer_lock.c.resource],
            set_={k: stmt.excluded[k] for k in values if k not in ("platform", "resource")},
            where=(writer_lock.c.expires_at < now) | (writer_lock.c.owner == owner),
        )
        previous = _held_by(conn, key)
        conn.execute(stmt)
        current = _held_by(conn, key)
        won = conn.execute(sa.select(writer_lock.c.token).where(*_key_clause(key))).scalar_one() == token
    if not won:
        assert current is not None  # a row that is not ours
        return current
    if previous is not None:
        log.warning(
            "%s: took the lock over from %s (lease until %s)",
            key,
            previous.holder,
            previous.expires_at.isoformat(),
        )
    return Lease(engine, key, token, holder, settings)


@contextmanager
def _renewing(lease: Lease) -> Iterator[None]:
    """Renew ``lease`` from a background thread every quarter lease while the block runs.

    For holders that cannot renew as they progress (the feedback import, whose internals are the
    importer's): the lease then only ends when the process dies.
    """
    stop = threading.Event()
    interval = lease.settings.lease_seconds / 4

    def run() -> None:
        while not stop.wait(interval):
            try:
                lease.renew(force=True)
            except LeaseLost:
                log.error("%s: lease lost while %s was still working", lease.key, lease.holder)
                return
            except Exception:  # noqa: BLE001 - a database hiccup: try again at the next interval
                log.warning(
                    "%s: renewing the lease failed; trying again in %.0fs", lease.key, interval, exc_info=True
                )

    thread = threading.Thread(
        target=run, name=f"lease-{lease.key.platform}-{lease.key.resource}", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def hold_writer_lock(
    engine: sa.Engine,
    key: LockKey,
    *,
    owner: str,
    holder: str,
    settings: LockSettings | None = None,
    keep_alive: bool = False,
) -> Iterator[Lease]:
    """Hold the lock of ``key`` for the block; wait at most ``settings.wait_seconds`` for it.

    Raises ``WriterLockBusy`` naming the holder when the wait runs out. The lock is released when
    the block ends, also on error; a crashed process's lock ends with its lease. The block renews
    the lease as it progresses (``Lease.renew``), or ``keep_alive`` renews it from a thread.
    """
    settings = settings or LockSettings()
    deadline = time.monotonic() + settings.wait_seconds
    logged = False
    while True:
        got = try_acquire(engine, key, owner=owner, holder=holder, settings=settings)
        if isinstance(got, Lease):
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WriterLockBusy(
                f"{key}: another writer holds the lock: {got.holder} (since {got.acquired_at.isoformat()}, "
                f"lease until {got.expires_at.isoformat()}); waited {settings.wait_seconds:.0f}s. "
                "Only one writer may change a platform list at a time; retry when it has finished",
                got.holder,
            )
        if not logged:
            log.info(
                "%s: waiting up to %.0fs for the lock held by %s", key, settings.wait_seconds, got.holder
            )
            logged = True
        settings.sleep(min(settings.poll_seconds, remaining))
    log.info("%s: lock taken by %s", key, holder)
    try:
        if keep_alive:
            with _renewing(got):
                yield got
        else:
            yield got
    finally:
        try:
            got.release()
        except Exception:  # noqa: BLE001 - the lease then ends on its own; the block's own error matters
            log.exception("%s: could not release the lock; it ends with its lease", key)
