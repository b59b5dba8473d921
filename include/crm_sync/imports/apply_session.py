"""What both applies do around their set-based SQL, inside the caller's transaction.

* ``prepare``/``tune_for_whole_file``: a file of a million rows stages a few hundred MB, kept in
  memory rather than temporary files (PostgreSQL ``temp_buffers``, ``work_mem``); each statement
  runs once over the whole file, so JIT compiling costs more than it saves; the stage table and
  the CRM tables joined get planner statistics first.
* ``TimedSql``: runs the named statements of ``sql/<folder>/`` and keeps the seconds per step
  (logged at the end: where the time of a slow import went).
* ``insert_rejected``: the rejected rows of a chunk, with line, field, reason and the raw values.
* ``create_temp_tables``/``drop_temp_tables``: the per-transaction stage tables, dropped before (a
  pooled SQLite connection may keep them from an aborted attempt) and after use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Protocol

import sqlalchemy as sa

from include.crm_sync.imports.sql_files import import_sql
from include.crm_sync.staging.dml import analyze_if_never_analyzed, raise_temp_buffers
from include.crm_sync.staging.tables import rejected_row
from include.crm_sync.staging.types import UTCDateTime

log = logging.getLogger(__name__)

PG_WORK_MEM = "256MB"
PG_TEMP_BUFFERS = "256MB"
#: table options of the stage tables: temporary, dropped at commit on PostgreSQL
TEMPORARY = {"prefixes": ["TEMPORARY"], "postgresql_on_commit": "DROP"}
#: the schema temporary tables live in, so a DROP can never hit a permanent table of that name
_TEMP_SCHEMA = {"postgresql": "pg_temp", "sqlite": "temp"}
#: bind parameters that are times (typed so both dialects store them as aware UTC)
_TIME_PARAMS = frozenset({"now", "received_at"})


class Rejected(Protocol):
    line_no: int
    field: str | None
    reason: str
    raw: str | None


def prepare(conn: sa.Connection) -> None:
    """Before the first row is staged: room for the stage tables in memory (PostgreSQL)."""
    raise_temp_buffers(conn, PG_TEMP_BUFFERS)


def tune_for_whole_file(conn: sa.Connection, name: str, stage_table: str, crm_tables: Sequence[str]) -> None:
    """After staging, before the set-based SQL (PostgreSQL only; this transaction only)."""
    if conn.dialect.name != "postgresql":
        return
    # sorts and hashes over a whole file in memory rather than in temp files
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")
    # each statement runs once over the whole file: compiling it (JIT) costs more than it saves
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.exec_driver_sql(f"ANALYZE {stage_table}")
    analyzed = analyze_if_never_analyzed(conn, crm_tables)
    if analyzed:
        log.info("%s: CRM table(s) %s had no planner statistics yet; analyzed", name, ", ".join(analyzed))


class TimedSql:
    """``run(name, **params)`` executes ``sql/<folder>/<name>.sql`` on ``conn`` and times it."""

    def __init__(self, conn: sa.Connection, folder: str) -> None:
        self.conn = conn
        self.folder = folder
        self.seconds: dict[str, float] = {}

    def run(self, sql_name: str, **params: object) -> sa.CursorResult:
        types = {k: UTCDateTime() for k in params if k in _TIME_PARAMS}
        started = time.perf_counter()
        result = self.conn.execute(import_sql(self.folder, sql_name, **types), params)
        self.seconds[sql_name] = self.seconds.get(sql_name, 0.0) + time.perf_counter() - started
        return result

    def log(self, name: str) -> None:
        log.info("%s: SQL seconds per step: %s", name, {k: round(v, 1) for k, v in self.seconds.items()})


def insert_rejected(conn: sa.Connection, file_id: int, rows: Iterable[Rejected]) -> None:
    values = [
        {"file_id": file_id, "line_no": r.line_no, "field": r.field, "reason": r.reason, "raw": r.raw}
        for r in rows
    ]
    if values:
        conn.execute(rejected_row.insert(), values)


def create_temp_tables(conn: sa.Connection, tables: Sequence[sa.Table]) -> None:
    drop_temp_tables(conn, tables)
    for table in tables:
        table.create(conn)


def drop_temp_tables(conn: sa.Connection, tables: Sequence[sa.Table]) -> None:
    schema = _TEMP_SCHEMA.get(conn.dialect.name)
    for table in reversed(tables):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema + '.' if schema else ''}{table.name}")
