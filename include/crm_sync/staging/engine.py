"""Create the SQLAlchemy engine for the CRM staging database, tuned per dialect.

SQLite is the embedded default and PostgreSQL the production target; everything else is refused
so a typo in a connection URL fails loudly instead of half-working.

SQLite gets, on every new DBAPI connection: WAL (readers never block the writer, which matters
when Airflow runs several tasks at once), ``foreign_keys=ON`` (off by default in SQLite!), a busy
timeout (wait for a concurrent writer instead of failing at once) and ``synchronous=NORMAL``
(safe with WAL: a power loss can only lose the last commits, never corrupt the file).

It also gets real transactions: Python's ``sqlite3`` module only issues ``BEGIN`` lazily before
the first INSERT/UPDATE/DELETE, so a SELECT-then-write in one SQLAlchemy transaction is not
atomic and DDL runs outside any transaction. We switch that off and emit ``BEGIN`` ourselves (the
recipe from SQLAlchemy's SQLite documentation), which also makes Alembic migrations atomic.

Write transactions start as writers. Under WAL a deferred transaction that has read cannot become
a writer once another connection has written: SQLite answers ``database is locked`` at once,
whatever the busy timeout (parallel ``extract`` tasks failed so on ``INSERT INTO list_run``). So
a transaction opened explicitly -- ``engine.begin()``, ``conn.begin()``, Alembic's -- which is how
every write in this project is made, begins with ``BEGIN IMMEDIATE``: it waits (busy timeout) for
the write lock up front, then cannot lose it. A transaction SQLAlchemy begins on its own at a
connection's first statement ("autobegin", the read-only ``with engine.connect()`` blocks) stays
``DEFERRED``, so readers never block writers. ``execution_options(sqlite_begin=...)`` overrides both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

#: Environment variable that overrides the default staging URL (embedded runs, CLIs, tests).
STAGING_URL_ENV = "CRM_SYNC_STAGING_URL"

PROJECT_ROOT = Path(__file__).resolve().parents[3]

#: The embedded default: a SQLite file in the git-ignored ``.local`` folder of the project.
DEFAULT_STAGING_URL = f"sqlite:///{PROJECT_ROOT / '.local' / 'crm_staging.db'}"

#: How long a SQLite connection waits for another writer's lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000

_SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})

#: the code of SQLAlchemy's implicit begin; the ``begin`` event fires a few frames below it
_AUTOBEGIN_CODE = sa.Connection._autobegin.__code__
#: frames between the ``begin`` listener and ``Connection._autobegin`` (6 in SQLAlchemy 2.0/2.1)
_AUTOBEGIN_MAX_DEPTH = 16


def resolve_staging_url(url: str | None) -> str:
    """The URL to use: the given one, else ``$CRM_SYNC_STAGING_URL``, else the SQLite default."""
    if url:
        return url
    return os.environ.get(STAGING_URL_ENV) or DEFAULT_STAGING_URL


def masked_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``, fit for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def create_staging_engine(url: str, **kw: Any) -> sa.Engine:
    """An engine for the staging database at ``url``; ``kw`` goes to ``sqlalchemy.create_engine``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_engine(parsed, **kw)
    if backend in ("postgresql", "postgres"):
        return _create_postgres_engine(parsed, **kw)
    raise ValueError(
        f"unsupported staging database {masked_url(parsed)!r}: use sqlite:///path or postgresql://..."
    )


def _create_postgres_engine(url: URL, **kw: Any) -> sa.Engine:
    # "postgres://" (as some tools write it) and a bare "postgresql://" both mean psycopg2 here:
    # it is the driver the project pins, and the generator's COPY path relies on it.
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg2")
    if url.drivername != "postgresql+psycopg2":
        raise ValueError(f"PostgreSQL staging needs the psycopg2 driver, got {url.drivername!r}")
    # Connections held in the pool die when the server restarts or a firewall drops idle ones;
    # a cheap ping on checkout replaces them instead of failing the next task.
    kw.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kw)


def sqlite_database_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases and other dialects."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database)


def _create_sqlite_engine(url: URL, **kw: Any) -> sa.Engine:
    path = sqlite_database_path(url)
    if path is not None:
        # SQLite creates the file but not its folder; the default lives in a not-yet-made .local/.
        path.resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kw)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see module docstring); PRAGMAs below must
        # run outside a transaction anyway (foreign_keys is silently ignored inside one).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if path is not None:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # the caller asked for no transaction; each statement commits on its own
        default = "DEFERRED" if _is_autobegin() else "IMMEDIATE"
        mode = str(options.get("sqlite_begin", default)).upper()
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin must be one of {sorted(_SQLITE_BEGIN_MODES)}, got {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _is_autobegin() -> bool:
    """Whether the transaction being begun is SQLAlchemy's implicit one (a connection's first statement).

    SQLAlchemy's ``begin`` event does not say whether ``begin()`` was called explicitly; its call
    stack does. Pinned by tests/integration/staging/test_sqlite_writers.py: should a SQLAlchemy
    upgrade move this, every transaction becomes IMMEDIATE (safe, only slower), and the reader test fails.
    """
    frame = sys._getframe(2)
    for _ in range(_AUTOBEGIN_MAX_DEPTH):
        if frame is None:
            return False
        if frame.f_code is _AUTOBEGIN_CODE:
            return True
        frame = frame.f_back
    return False
