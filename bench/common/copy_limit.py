"""The import limit: PostgreSQL ``COPY`` of the same CSV file into an unindexed table.

No constraint, no index, no parsing in Python: the rate at which the server alone takes these
rows. An import that validates, de-duplicates and applies them is compared with it in the same
run. Columns are ``text`` (the cheapest input function), named from the file's header.
"""

from __future__ import annotations

import csv
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
    return {"rows": rows, "seconds": round(seconds, 3), "bytes": sum(Path(p).stat().st_size for p in paths),
            "rps": round(rows / seconds) if seconds else None}
