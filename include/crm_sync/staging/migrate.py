"""Bring a staging database to a schema revision with the Alembic migrations in ``sql/migrations``.

The only way the staging schema changes. Upgrading is idempotent: a database already at the
target revision is left untouched, so every entry point (CLI, DAG task, test fixture) may call
``upgrade`` unconditionally. Alembic is configured in code -- there is no alembic.ini to keep in
sync, and a password in the URL never passes through ConfigParser (which chokes on ``%``).

    python -m include.crm_sync.staging.migrate --url sqlite:///.local/crm_staging.db
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from include.crm_sync.staging.engine import (
    PROJECT_ROOT,
    create_staging_engine,
    masked_url,
    resolve_staging_url,
    sqlite_database_path,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"

# Alembic keeps the running migration context in module globals: two threads migrating at once
# would trample each other's. Processes are serialised by the database lock taken in env.py.
_ALEMBIC_LOCK = threading.Lock()


def alembic_config(url: str) -> Config:
    """An Alembic config for the staging migrations against ``url`` (for ``alembic.command``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


def head_revision() -> str:
    """The newest revision in ``sql/migrations``."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None if it was never migrated (or doesn't exist)."""
    path = sqlite_database_path(url)
    if path is not None and not path.exists():
        return None  # don't create an empty file just by asking
    # NullPool: nothing stays open afterwards (a pooled SQLite connection would keep the WAL).
    engine = create_staging_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``; a no-op when it is already there."""
    before = current_revision(url)
    target = head_revision() if revision == "head" else revision
    if before == target:
        log.info("Staging database %s is already at revision %s; nothing to do", masked_url(url), target)
        return
    log.info("Migrating staging database %s from %s to %s", masked_url(url), before or "<empty>", target)
    engine = create_staging_engine(url, poolclass=NullPool)
    try:
        with _ALEMBIC_LOCK, engine.connect() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()
    log.info("Staging database %s is now at revision %s", masked_url(url), current_revision(url))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.crm_sync.staging.migrate",
        description="Migrate the CRM staging database to a schema revision (default: head).",
    )
    parser.add_argument(
        "--url",
        help="SQLAlchemy URL of the staging database (default: $CRM_SYNC_STAGING_URL, "
        "else the SQLite file in .local/)",
    )
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = resolve_staging_url(args.url)
    try:
        upgrade(url, args.revision)
    except Exception as exc:  # one clear line for the operator; the traceback is in the log
        log.exception("Migrating %s failed", masked_url(url))
        print(f"error: migrating {masked_url(url)} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
