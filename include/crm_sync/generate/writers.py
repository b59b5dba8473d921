"""Bulk writers that put generated rows into a staging database, the fastest way per dialect.

PostgreSQL: ``COPY ... FROM STDIN`` in text format, one COPY per table and chunk, fed from an
in-memory buffer through psycopg2's ``copy_expert`` -- an order of magnitude faster than INSERTs.
SQLite: ``executemany`` of one prepared INSERT per table and chunk on the driver cursor (no
SQLAlchemy per-row processing), with the connection tuned for a bulk load.

Writing is split in two steps: ``encode`` (rows -> what the driver takes: COPY bytes, or the rows
themselves) is a pure function that the generator process can run, and ``write_encoded`` sends
it. Statements are built from the table metadata, so a column missing from the schema fails at
once. The whole load is one transaction (``load_transaction``), so a failed or interrupted load
leaves the database exactly as it was. Within it, foreign keys are checked once at the end instead
of per row, and plain indexes are built once at the end instead of row by row (pg_restore's
technique): the definitions are read from the database's catalog and restored verbatim before
commit, so the committed schema is exactly the migrated one -- a test compares it after a load.
"""

from __future__ import annotations

import io
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from itertools import repeat
from typing import Any

import sqlalchemy as sa

from include.crm_sync.generate.model import Row
from include.crm_sync.staging.engine import PROJECT_ROOT

log = logging.getLogger(__name__)

_SQL_DIR = PROJECT_ROOT / "sql" / "generate"


def _sql(name: str) -> str:
    return (_SQL_DIR / name).read_text(encoding="utf-8")


@contextmanager
def _timed(message: str, *args: Any) -> Iterator[None]:
    """Log ``message`` with how long the block took (the slow steps between last row and commit)."""
    started = time.perf_counter()
    yield
    log.info(message + " in %.1f s", *args, time.perf_counter() - started)


_NULL = "\\N"
# COPY text format: these characters in a value must be backslash-escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _column_list(table: sa.Table, columns: Sequence[str]) -> str:
    missing = [c for c in columns if c not in table.c]
    if missing:
        raise ValueError(f"table {table.name} has no column(s) {missing}")
    return ", ".join(f'"{c}"' for c in columns)


def copy_text(rows: Sequence[Row], width: int) -> str:
    """Rows as PostgreSQL COPY text: tab-separated, ``\\N`` for NULL, one line per row.

    The generator's values never contain tab, newline, CR or backslash (the word lists are
    filtered), so the fast path joins without escaping. Counting separators proves that held for
    this chunk; if not, the chunk is encoded again with full escaping -- slow, never corrupt.
    """
    if not rows:
        return ""  # not "\n": COPY would read that as one row with an empty first column
    null = _NULL
    text = "\n".join(["\t".join([null if v is None else v for v in row]) for row in rows]) + "\n"
    nulls = sum(map(tuple.count, rows, repeat(None)))
    if (
        text.count("\t") == len(rows) * (width - 1)
        and text.count("\n") == len(rows)
        and text.count("\\") == nulls
        and "\r" not in text
    ):
        return text
    escaped = ["\t".join([null if v is None else v.translate(_COPY_ESCAPES) for v in row]) for row in rows]
    return "\n".join(escaped) + "\n"


class BulkWriter(ABC):
    """Writes rows (tuples of text or None, see ``model``) into tables on one open connection."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    @staticmethod
    @abstractmethod
    def encode(rows: Sequence[Row], width: int) -> Any:
        """The rows in the form ``write_encoded`` sends; pure, so another process may run it."""

    @abstractmethod
    def write_encoded(self, table: sa.Table, columns: Sequence[str], payload: Any) -> None:
        """Append an encoded chunk (values in ``columns`` order) to ``table``."""

    @abstractmethod
    def load_transaction(self, tables: Sequence[sa.Table]) -> AbstractContextManager[None]:
        """The one transaction of a bulk load into ``tables``, tuned for it.

        Foreign keys of ``tables`` are checked once for all rows at the end instead of row by
        row; a violation raises, and so rolls the whole load back.
        """

    @abstractmethod
    def clear(self, tables: Sequence[sa.Table]) -> None:
        """Remove every row of ``tables`` (given parents first) inside the current transaction."""

    def write(self, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Append ``rows`` (values in ``columns`` order) to ``table``."""
        if rows:
            self.write_encoded(table, columns, self.encode(rows, len(columns)))

    def _cursor(self) -> Any:
        return self.connection.connection.dbapi_connection.cursor()


class PostgresCopyWriter(BulkWriter):
    """``COPY FROM STDIN`` through psycopg2, one in-memory buffer per table and chunk."""

    @staticmethod
    def encode(rows: Sequence[Row], width: int) -> bytes:
        return copy_text(rows, width).encode("utf-8")

    def write_encoded(self, table: sa.Table, columns: Sequence[str], payload: bytes) -> None:
        if not payload:
            return
        # ENCODING: the bytes are UTF-8 whatever the connection's client_encoding is.
        statement = (
            f'COPY "{table.name}" ({_column_list(table, columns)}) FROM STDIN '
            f"WITH (FORMAT text, ENCODING 'UTF8')"
        )
        cursor = self._cursor()
        try:
            cursor.copy_expert(statement, io.BytesIO(payload), size=1 << 20)
        finally:
            cursor.close()

    @contextmanager
    def load_transaction(self, tables: Sequence[sa.Table]) -> Iterator[None]:
        connection = self.connection
        with connection.begin():
            # Generated timestamps are UTC text without an offset: read them as UTC whatever the
            # server's or role's default time zone. LOCAL: for this transaction only.
            connection.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
            # A foreign key costs a trigger call per COPYed row -- most of the load time -- and
            # each plain index a scattered insertion. ALTER TABLE / DROP INDEX hold an exclusive
            # lock until commit, so no other session ever sees the tables without them, and any
            # failure rolls the drops back too.
            names = {"tables": [t.name for t in tables]}
            foreign_keys = connection.execute(sa.text(_sql("postgres_foreign_keys.sql")), names).all()
            indexes = connection.execute(sa.text(_sql("postgres_plain_indexes.sql")), names).all()
            try:
                with connection.begin_nested():
                    for table_name, name, _definition in foreign_keys:
                        connection.exec_driver_sql(f'ALTER TABLE {table_name} DROP CONSTRAINT "{name}"')
                    for index_name, _definition in indexes:
                        connection.exec_driver_sql(f"DROP INDEX {index_name}")
            except sa.exc.ProgrammingError as exc:  # e.g. the role does not own the tables
                log.warning(
                    "Loading with foreign keys and indexes maintained row by row (slower): "
                    "cannot drop them: %s",
                    str(exc.orig).strip(),
                )
                foreign_keys, indexes = [], []
            yield
            with _timed("Built %d indexes", len(indexes)):
                for _index_name, definition in indexes:
                    connection.exec_driver_sql(definition)
            with _timed("Added and validated %d foreign keys", len(foreign_keys)):
                for table_name, name, definition in foreign_keys:  # validates every row, in one join
                    connection.exec_driver_sql(
                        f'ALTER TABLE {table_name} ADD CONSTRAINT "{name}" {definition}'
                    )
            commit_started = time.perf_counter()
        log.info("Committed in %.1f s", time.perf_counter() - commit_started)

    def clear(self, tables: Sequence[sa.Table]) -> None:
        names = ", ".join(f'"{t.name}"' for t in tables)
        self.connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


class SqliteBulkWriter(BulkWriter):
    """``executemany`` on the sqlite3 cursor, inside one ``BEGIN IMMEDIATE`` transaction."""

    @staticmethod
    def encode(rows: Sequence[Row], width: int) -> Sequence[Row]:
        return rows  # sqlite3 binds str and None as they are

    def write_encoded(self, table: sa.Table, columns: Sequence[str], payload: Sequence[Row]) -> None:
        if not payload:
            return
        marks = ", ".join("?" * len(columns))
        cursor = self._cursor()
        try:
            cursor.executemany(
                f'INSERT INTO "{table.name}" ({_column_list(table, columns)}) VALUES ({marks})', payload
            )
        finally:
            cursor.close()

    @contextmanager
    def load_transaction(self, tables: Sequence[sa.Table]) -> Iterator[None]:
        connection = self.connection
        dbapi_connection = connection.connection.dbapi_connection
        # Checking each row's parent as it is inserted costs about a third of the load. SQLite
        # can switch that off only outside a transaction; foreign_key_check then verifies every
        # row before commit instead.
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            # IMMEDIATE: take the write lock up front, so no other writer slips in between the
            # caller's emptiness check and the load.
            with connection.execution_options(sqlite_begin="IMMEDIATE").begin():
                # 64 MiB of page cache (negative = KiB) holds the working set: with the plain
                # indexes built afterwards, rows only append to tables and primary keys. Also caps
                # the index builds' sort memory; beyond it they spill to temporary files. This
                # connection only: it is closed after the load.
                connection.exec_driver_sql("PRAGMA cache_size=-65536")
                indexes = connection.execute(
                    sa.text(_sql("sqlite_plain_indexes.sql")).bindparams(
                        sa.bindparam("tables", expanding=True)
                    ),
                    {"tables": [t.name for t in tables]},
                ).all()
                for index_name, _definition in indexes:
                    connection.exec_driver_sql(f'DROP INDEX "{index_name}"')
                yield
                with _timed("Built %d indexes", len(indexes)):
                    for _index_name, definition in indexes:  # one sorted build each
                        connection.exec_driver_sql(definition)
                with _timed("Checked the foreign keys of %d tables", len(tables)):
                    for table in tables:
                        check = f'PRAGMA foreign_key_check("{table.name}")'
                        broken = connection.exec_driver_sql(check).first()
                        if broken is not None:
                            raise RuntimeError(
                                f"generated rows violate a foreign key of {table.name}: {tuple(broken)}"
                            )
                commit_started = time.perf_counter()
            log.info("Committed in %.1f s", time.perf_counter() - commit_started)
        finally:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

    def clear(self, tables: Sequence[sa.Table]) -> None:
        for table in reversed(tables):  # children first
            self.connection.execute(sa.delete(table))


_WRITERS: dict[str, type[BulkWriter]] = {"postgresql": PostgresCopyWriter, "sqlite": SqliteBulkWriter}


def writer_class(dialect: str) -> type[BulkWriter]:
    """The bulk writer class for a dialect name (its ``encode`` is what a generator process runs)."""
    try:
        return _WRITERS[dialect]
    except KeyError:
        raise ValueError(f"no bulk writer for dialect {dialect!r}") from None


def writer_for(connection: sa.Connection) -> BulkWriter:
    """The bulk writer for the connection's dialect."""
    return writer_class(connection.dialect.name)(connection)
