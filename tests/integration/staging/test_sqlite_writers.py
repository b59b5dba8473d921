"""SQLite with several writers at once (issue 12 point 6): write transactions start as writers.

Under WAL a deferred transaction that reads and then writes cannot upgrade to a writer once
another connection has written: SQLite answers ``database is locked`` at once, whatever the busy
timeout. Parallel Airflow tasks on the SQLite CRM (three ``extract`` tasks) did exactly that on
``INSERT INTO list_run``. A transaction opened with ``begin()`` is a write transaction and must
take the write lock at ``BEGIN`` (``BEGIN IMMEDIATE``); a connection that only reads (autobegin)
must not, so readers never block writers.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
import sqlalchemy as sa

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.staging.engine import create_staging_engine
from tests.integration.extract.crm_state import CrmState, list_def


@pytest.fixture
def engine(tmp_path):
    engine = create_staging_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    yield engine
    engine.dispose()


def _write_lock_is_free(engine: sa.Engine) -> bool:
    """Whether another connection can become a writer right now (no waiting)."""
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


def test_a_transaction_begun_explicitly_holds_the_write_lock_from_begin(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM t").scalar()  # only read so far
        assert not _write_lock_is_free(engine)
    with engine.connect() as conn, conn.begin():
        assert not _write_lock_is_free(engine)
    assert _write_lock_is_free(engine)


def test_a_connection_that_only_reads_does_not_block_writers(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0  # autobegin: a reader
        assert _write_lock_is_free(engine)
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn, conn.begin():
        conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
        assert _write_lock_is_free(engine)


def _read_then_write_in_threads(
    engine: sa.Engine, begin: Callable[[], AbstractContextManager[sa.Connection]], n: int = 3
) -> list[BaseException]:
    """``n`` threads each read, wait until all have read (if they can), then write. Returns errors."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with begin() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
                try:
                    # Writers that start as writers cannot all be here at once: the barrier then
                    # only delays the first one, it does not change what happens.
                    barrier.wait(timeout=2)
                except threading.BrokenBarrierError:
                    pass
                conn.exec_driver_sql(f"INSERT INTO t VALUES ({i})")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_deferred_read_then_write_transactions_fail_with_database_is_locked(engine):
    """The cause, reproduced without Airflow: deferred transactions that read, then write."""

    @contextmanager
    def deferred() -> Iterator[sa.Connection]:
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn, conn.begin():
            yield conn

    errors = _read_then_write_in_threads(engine, deferred)
    assert errors and all("database is locked" in str(e) for e in errors)


def test_read_then_write_transactions_all_succeed(engine):
    errors = _read_then_write_in_threads(engine, engine.begin)
    assert errors == []
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT x FROM t").scalars()) == [0, 1, 2]


def test_three_extractions_at_once_on_sqlite_all_succeed(sqlite_template, tmp_path):
    """What the three mapped ``extract`` tasks do, in threads: every one succeeds at the first try."""
    path = tmp_path / "staging.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_staging_engine(f"sqlite:///{path}")
    state = CrmState()
    for i in range(30):
        state.entity(f"C{i:03d}", f"person{i}@example.com")
    state.write(engine, run_id="run-1", feedback_ok=True)
    lists = [list_def(name=f"list_{k}", platform_list_id=str(1001 + k)) for k in range(3)]
    barrier = threading.Barrier(len(lists))
    errors: list[BaseException] = []

    def extract(definition) -> None:  # noqa: ANN001
        try:
            barrier.wait(timeout=30)
            extract_snapshot(engine, definition, run_id="run-1")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=extract, args=(d,)) for d in lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert errors == []
