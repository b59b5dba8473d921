"""Two imports at once on an empty watermark table (issue 12 point 5), on SQLite and PostgreSQL.

Both imports end by reading the export's watermark and then writing it (the response import's
``record_success``, the feedback import's ``write_watermark``). On an empty table the second one
used to fail with a raw error: PostgreSQL ``IntegrityError`` (both UPDATEs found no row, both
INSERTed), SQLite ``database is locked`` (a deferred read-then-write transaction). The second
import is forced to interleave at the worst moment; both must succeed and leave one row, the later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from include.crm_sync.feedback.window import read_watermark, write_watermark
from include.crm_sync.responses.gap import check_gap, record_success
from include.crm_sync.staging.tables import export_watermark

NAME = "optimizely:response_files"
T1 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
T2 = T1 + timedelta(minutes=1)


def _response_import_end(conn: sa.Connection, now: datetime) -> None:
    """What the response import does on first use: check the gap (a read), then record success."""
    check_gap(conn, NAME, now=now, lifetime=timedelta(days=14))
    record_success(conn, NAME, now=now, last_file_id=None)


def _feedback_import_end(conn: sa.Connection, now: datetime) -> None:
    """What the feedback import does: read the watermark, then advance it."""
    read_watermark(conn, NAME)
    write_watermark(conn, NAME, now, success_at=now, file_id=None)


def _second_is_stuck(engine: sa.Engine, read_done: threading.Event) -> None:
    """Return once the second import has read (SQLite) or waits on the first's row lock (PostgreSQL)."""
    if engine.dialect.name == "sqlite":
        # A writer that starts as a writer waits in BEGIN and never gets to read while the first holds
        # the lock: then this wait only delays the first commit, it changes nothing.
        read_done.wait(timeout=2)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for _ in range(3000):
            blocked = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"  # the server is shared: only this test's database
            ).scalar()
            if blocked:
                return
            conn.exec_driver_sql("SELECT pg_sleep(0.01)")
    raise AssertionError("the second import never waited for the first")


@pytest.mark.parametrize("step", [_response_import_end, _feedback_import_end], ids=["gap", "window"])
def test_two_first_imports_at_once_both_succeed(
    staging_engine, step: Callable[[sa.Connection, datetime], None]
):
    read_done = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with staging_engine.begin() as conn:
                read_watermark(conn, NAME)
                read_done.set()
                step(conn, T2)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    thread = threading.Thread(target=second)
    with staging_engine.begin() as conn:
        read_watermark(conn, NAME)  # the table is empty: both imports see "first use"
        thread.start()
        if staging_engine.dialect.name == "postgresql":
            step(conn, T1)  # written, not committed: the second's write must wait for it
            _second_is_stuck(staging_engine, read_done)
        else:
            _second_is_stuck(staging_engine, read_done)
            step(conn, T1)
    thread.join()

    assert errors == []
    with staging_engine.connect() as conn:
        rows = conn.execute(sa.select(export_watermark.c.export_name, export_watermark.c.watermark)).all()
    assert rows == [(NAME, T2)]
