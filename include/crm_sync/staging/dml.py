"""Dialect-aware inserts shared by every writer of the staging database (and the COPY of the imports)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError


def insert_ignoring_conflicts(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows, silently skipping those that collide with a unique key (idempotent writes)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported dialects are tested
        raise NotImplementedError(f"staging database dialect {dialect!r} is not supported")
    conn.execute(stmt, list(rows))


def upsert(conn: Connection, table: Table, key: Sequence[Column[Any]], values: dict[str, Any]) -> Insert:
    """INSERT one row, or UPDATE the row with the same ``key`` to ``values``: one atomic statement.

    Update-then-insert races: two writers both find no row, both insert, one fails on the key.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(table).values(**values)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(**values)
    else:  # pragma: no cover - only the two supported dialects are tested
        raise NotImplementedError(f"staging database dialect {dialect!r} is not supported")
    names = {c.name for c in key}
    return stmt.on_conflict_do_update(
        index_elements=list(key), set_={k: stmt.excluded[k] for k in values if k not in names}
    )


#: what COPY's text format must escape inside a value (backslash first, so escapes are not doubled)
_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def _copy_text_column(values: Sequence[Any]) -> list[str]:
    """One column as COPY text values: ``None`` -> ``\\N``, numbers as text, escapes only where needed."""
    try:
        joined = "".join(values)  # the common case, a column of strings only: no per-value work
        texts = values if isinstance(values, list) else list(values)
    except TypeError:
        texts = ["\\N" if v is None else v if v.__class__ is str else str(v) for v in values]
        joined = "".join(t for t, v in zip(texts, values, strict=True) if v is not None)
    if any(c in joined for c, _ in _COPY_ESCAPES):  # rare: validated values carry no control characters
        escaped = []
        for text, value in zip(texts, values, strict=True):
            if value is not None:
                for char, escape in _COPY_ESCAPES:
                    text = text.replace(char, escape)
            escaped.append(text)
        return escaped
    return texts


def copy_columns(
    conn: Connection, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]]
) -> None:
    """Append column-wise rows to ``table`` with PostgreSQL ``COPY … FROM STDIN`` (psycopg2), in text format.

    The rows are serialised column by column and joined in C (``str.join`` over ``zip``), which is
    several times cheaper than ``csv.writer`` per row; the buffer holds one chunk only.
    """
    if not columns or not columns[0]:
        return
    texts = [_copy_text_column(column) for column in columns]
    payload = "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table} ({', '.join(names)}) FROM STDIN", io.StringIO(payload))
    finally:
        cursor.close()


def insert_columns(
    conn: Connection,
    table: Table,
    names: Sequence[str],
    columns: Sequence[Sequence[Any]],
    *,
    time_column: str,
) -> None:
    """Append column-wise rows to a staging ``table``, the fastest way each dialect allows.

    ``time_column`` holds UTC times as ``…T…Z`` text. PostgreSQL (psycopg2): ``copy_columns``, which
    parses that text itself. SQLite: one ``executemany`` with the times in the text layout
    SQLAlchemy's SQLite DateTime uses, so they read back like any other. Others: a Core insert.
    """
    if not columns or not columns[0]:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg2":
        copy_columns(conn, table.name, names, columns)
        return
    at = list(names).index(time_column)
    values = list(columns)
    if dialect.name == "sqlite":
        values[at] = [f"{t[:10]} {t[11:26]}" for t in columns[at]]
        placeholders = ", ".join("?" for _ in names)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders})",
            list(zip(*values, strict=True)),
        )
    else:  # pragma: no cover - only the two supported dialects are tested
        values[at] = [datetime.fromisoformat(t) for t in columns[at]]
        conn.execute(
            table.insert(), [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
        )


def raise_temp_buffers(conn: Connection, size: str) -> bool:
    """PostgreSQL: let this session keep temporary tables of ``size`` in memory (default 8 MB).

    ``temp_buffers`` can only change before the session's first temporary table; a pooled session
    that had one keeps its value (the savepoint absorbs the refusal). True if it was set.
    """
    if conn.dialect.name != "postgresql":
        return False
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(f"SET temp_buffers = '{size}'")
    except DBAPIError:
        return False
    return True


def analyze_if_never_analyzed(conn: Connection, tables: Sequence[str]) -> list[str]:
    """PostgreSQL: ANALYZE those of ``tables`` that have no statistics yet; returns their names.

    A CRM just bulk-loaded (a fresh database, a restore) has none until autovacuum comes by; the
    planner then guesses, and the imports' joins against ``crm_entity`` turned from a hash join or
    an index lookup per row into a walk of a whole index (measured: 16 s instead of 1 s at 1M rows).
    Sampling costs well under a second. Where the role may not analyze a table, it is left alone.
    """
    if conn.dialect.name != "postgresql":
        return []
    missing = list(
        conn.exec_driver_sql(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%(names)s) "
            "AND last_analyze IS NULL AND last_autoanalyze IS NULL",
            {"names": list(tables)},
        ).scalars()
    )
    done = []
    for table in missing:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(f'ANALYZE "{table}"')
            done.append(table)
        except DBAPIError:
            pass
    return done
