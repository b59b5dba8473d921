"""The import limits: PostgreSQL ``COPY`` of the same CSV file into an unindexed table, and (the fair
one) ``COPY`` of what the import wrote into copies of its target tables with their keys and indexes.

No constraint, no index, no parsing in Python: the rate at which the server alone takes these
rows. An import that validates, de-duplicates and applies them is compared with it in the same
run. Columns are ``text`` (the cheapest input function), named from the file's header.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import psycopg2
import sqlalchemy as sa


def _dsn(url: str) -> str:
    u = sa.make_url(url)
    parts = {"host": u.host, "port": u.port, "dbname": u.database, "user": u.username, "password": u.password}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def copy_files_step(url: str, paths: list[str], table: str) -> dict:
    """Child step: ``COPY`` every file (CSV with a header row) into a fresh unindexed ``table``,
    all in one transaction, committed inside the timing. Returns rows, seconds, bytes."""
    if not table.isidentifier():
        raise ValueError(f"not a plain table name: {table!r}")
    with open(paths[0], encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    columns = ", ".join(f'"{name}" text' for name in header)
    conn = psycopg2.connect(_dsn(url))
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} ({columns})")
        conn.commit()
        rows = 0
        started = time.perf_counter()
        with conn.cursor() as cur:
            for path in paths:
                with open(path, "rb") as data:
                    cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)", data)
                rows += cur.rowcount
        conn.commit()
        seconds = time.perf_counter() - started
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE {table}")
        conn.commit()
    finally:
        conn.close()
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "bytes": sum(Path(p).stat().st_size for p in paths),
        "rps": round(rows / seconds) if seconds else None,
    }


def fair_copy_step(url: str, tables: list[str], rows: int) -> dict:
    """Child step: the fair limit of an import -- ``COPY`` of every row the import left in its
    target ``tables`` into fresh copies of those tables *with* their keys, indexes and defaults
    (``LIKE ... INCLUDING ALL``, plus their foreign keys), all in one transaction,
    committed inside the timing. The rows are read out with ``COPY ... TO`` first (not timed), so
    the server parses exactly the values the import wrote. ``rps`` is the import's own ``rows``
    over these seconds: the rate at which the server alone could take what the import produced."""
    for table in tables:
        if not table.isidentifier():
            raise ValueError(f"not a plain table name: {table!r}")
    conn = psycopg2.connect(_dsn(url))
    try:
        dumps: dict[str, io.BytesIO] = {}
        copied = 0
        with conn.cursor() as cur:
            for table in tables:
                buffer = io.BytesIO()
                cur.copy_expert(f"COPY {table} TO STDOUT", buffer)
                copied += cur.rowcount
                buffer.seek(0)
                dumps[table] = buffer
                cur.execute(f"DROP TABLE IF EXISTS bench_fair_{table}")
                cur.execute(f"CREATE TABLE bench_fair_{table} (LIKE {table} INCLUDING ALL)")
                # LIKE leaves out foreign keys; the import pays their checks, so the limit does too
                cur.execute(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                    "AND contype = 'f'",
                    (table,),
                )
                for (definition,) in cur.fetchall():
                    cur.execute(f"ALTER TABLE bench_fair_{table} ADD {definition}")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            for table, buffer in dumps.items():
                cur.copy_expert(f"COPY bench_fair_{table} FROM STDIN", buffer)
        conn.commit()
        seconds = time.perf_counter() - started
        with conn.cursor() as cur:
            for table in tables:
                cur.execute(f"DROP TABLE bench_fair_{table}")
        conn.commit()
    finally:
        conn.close()
    return {
        "tables": tables,
        "table_rows": copied,
        "rows": rows,
        "seconds": round(seconds, 3),
        "rps": round(rows / seconds) if seconds else None,
    }
