"""Bulk writers that put generated rows into a staging database, the fastest way per dialect.

PostgreSQL: ``COPY ... FROM STDIN`` in text format, one COPY per table and chunk, fed from an
in-memory buffer through psycopg2's ``copy_expert`` -- an order of magnitude faster than INSERTs.
SQLite: ``executemany`` of one prepared INSERT per table and chunk on the driver cursor (no
SQLAlchemy per-row processing), with the connection tuned for a bulk load.

Statements are built from the table metadata, so a column missing from the schema fails at once.
The whole load is one transaction (``load_transaction``), so a failed or interrupted load leaves
the database exactly as it was. Foreign keys are checked once at the end of it, not per row.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from itertools import repeat

import sqlalchemy as sa

from include.crm_sync.generate.model import Row
from include.crm_sync.staging.engine import PROJECT_ROOT

_FOREIGN_KEYS_SQL = (PROJECT_ROOT / "sql" / "generate" / "postgres_foreign_keys.sql").read_text(encoding="utf-8")

_NULL = "\\N"
# COPY text format: these characters in a value must be backslash-escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _checked_columns(table: sa.Table, columns: Sequence[str]) -> list[str]:
    missing = [c for c in columns if c not in table.c]
    if missing:
        raise ValueError(f"table {table.name} has no column(s) {missing}")
    return list(columns)


class BulkWriter(ABC):
    """Writes rows (tuples of text or None, see ``model``) into tables on one open connection."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    @abstractmethod
    def load_transaction(self, tables: Sequence[sa.Table]) -> AbstractContextManager[None]:
        """The one transaction of a bulk load into ``tables``, tuned for it.

        Foreign keys of ``tables`` are checked once for all rows at the end instead of row by
        row; a violation raises, and so rolls the whole load back.
        """

    @abstractmethod
    def write(self, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Append ``rows`` (values in ``columns`` order) to ``table``."""

    @abstractmethod
    def clear(self, tables: Sequence[sa.Table]) -> None:
        """Remove every row of ``tables`` (given parents first) inside the current transaction."""

    def _cursor(self):
        return self.connection.connection.dbapi_connection.cursor()


class PostgresCopyWriter(BulkWriter):
    """``COPY FROM STDIN`` through psycopg2, one in-memory buffer per table and chunk."""

    @contextmanager
    def load_transaction(self, tables: Sequence[sa.Table]) -> Iterator[None]:
        connection = self.connection
        with connection.begin():
            # Generated timestamps are UTC text without an offset: read them as UTC whatever the
            # server's or role's default time zone. LOCAL: for this transaction only.
            connection.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
            # Nothing is visible before the final commit anyway; don't wait for WAL flushes.
            connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            # A foreign key costs a trigger call per COPYed row -- most of the load time. Drop
            # them and add the identical constraints back before commit: that validates all rows
            # in one join. ALTER TABLE holds an exclusive lock until commit, so no other session
            # ever sees the tables without them, and any failure rolls the drop back too.
            foreign_keys = connection.execute(
                sa.text(_FOREIGN_KEYS_SQL), {"tables": [t.name for t in tables]}
            ).all()
            for table_name, name, _definition in foreign_keys:
                connection.exec_driver_sql(f'ALTER TABLE {table_name} DROP CONSTRAINT "{name}"')
            yield
            for table_name, name, definition in foreign_keys:
                connection.exec_driver_sql(f'ALTER TABLE {table_name} ADD CONSTRAINT "{name}" {definition}')

    def write(self, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in _checked_columns(table, columns))
        statement = f'COPY "{table.name}" ({names}) FROM STDIN WITH (FORMAT text, ENCODING \'UTF8\')'
        buffer = io.BytesIO(copy_text(rows, len(columns)).encode("utf-8"))
        cursor = self._cursor()
        try:
            cursor.copy_expert(statement, buffer, size=1 << 20)
        finally:
            cursor.close()

    def clear(self, tables: Sequence[sa.Table]) -> None:
        names = ", ".join(f'"{t.name}"' for t in tables)
        self.connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


def copy_text(rows: Sequence[Row], width: int) -> str:
    """Rows as PostgreSQL COPY text: tab-separated, ``\\N`` for NULL, one line per row.

    The generator's values never contain tab, newline, CR or backslash (the word lists are
    filtered), so the fast path joins without escaping. A count of separators proves that was
    true for this chunk; if not, the chunk is encoded again with full escaping -- never corrupt.
    """
    null = _NULL
    lines = ["\t".join([null if v is None else v for v in row]) for row in rows]
    text = "\n".join(lines) + "\n"
    nulls = sum(map(tuple.count, rows, repeat(None)))
    if (
        text.count("\t") == len(rows) * (width - 1)
        and text.count("\n") == len(rows)
        and text.count("\\") == nulls
        and "\r" not in text
    ):
        return text
    escaped = [
        "\t".join([null if v is None else v.translate(_COPY_ESCAPES) for v in row]) for row in rows
    ]
    return "\n".join(escaped) + "\n"


class SqliteBulkWriter(BulkWriter):
    """``executemany`` on the sqlite3 cursor, inside one ``BEGIN IMMEDIATE`` transaction."""

    @contextmanager
    def load_transaction(self, tables: Sequence[sa.Table]) -> Iterator[None]:
        connection = self.connection
        dbapi_connection = connection.connection.dbapi_connection
        # Checking every row's parent as it is inserted costs a third of the load; SQLite can
        # only switch that off outside a transaction, and foreign_key_check verifies it all
        # before commit instead.
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            # IMMEDIATE: take the write lock up front, so no other writer slips in between the
            # caller's emptiness check and the load.
            with connection.execution_options(sqlite_begin="IMMEDIATE").begin():
                # A big page cache keeps the indexes' B-trees in memory while rows stream in
                # (negative = KiB); this connection only, it is closed after the load.
                connection.exec_driver_sql("PRAGMA cache_size=-262144")
                connection.exec_driver_sql("PRAGMA temp_store=MEMORY")
                yield
                for table in tables:
                    broken = connection.exec_driver_sql(f'PRAGMA foreign_key_check("{table.name}")').first()
                    if broken is not None:
                        raise RuntimeError(f"generated rows violate a foreign key of {table.name}: {tuple(broken)}")
        finally:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

    def write(self, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in _checked_columns(table, columns))
        marks = ", ".join("?" * len(columns))
        cursor = self._cursor()
        try:
            cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
        finally:
            cursor.close()

    def clear(self, tables: Sequence[sa.Table]) -> None:
        for table in reversed(tables):  # children first
            self.connection.execute(sa.delete(table))


def writer_for(connection: sa.Connection) -> BulkWriter:
    """The bulk writer for the connection's dialect."""
    name = connection.dialect.name
    if name == "postgresql":
        return PostgresCopyWriter(connection)
    if name == "sqlite":
        return SqliteBulkWriter(connection)
    raise ValueError(f"no bulk writer for dialect {name!r}")
