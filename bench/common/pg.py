"""PostgreSQL databases of a benchmark run: a generated CRM per size, and throw-away copies of it.

The generated database (e.g. ``crm_sync_bench_1m``) stays as the generator left it; every
scenario that writes (refill audit, imports) works on a copy made with ``CREATE DATABASE ...
TEMPLATE`` (a file-level copy: seconds, not a second generation), so ``--reuse`` can keep the
generated one across runs and each run starts from the same CRM.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from bench.common.proc import log, run_step

DEFAULT_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
_NAME = re.compile(r"^[a-z0-9_]{1,63}$")


def _checked(name: str) -> str:
    # Database names are spliced into DDL (they cannot be bound): allow only plain identifiers.
    if not _NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def database_url(server_url: str, name: str) -> str:
    return sa.make_url(server_url).set(database=_checked(name)).render_as_string(hide_password=False)


def _admin(server_url: str) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def drop_database(server_url: str, name: str) -> None:
    engine = _admin(server_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)')
    engine.dispose()


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """A new, empty (or copied from ``template``) database; an old one of that name is dropped."""
    drop_database(server_url, name)
    engine = _admin(server_url)
    with engine.connect() as conn:
        suffix = f' TEMPLATE "{_checked(template)}"' if template else ""
        conn.exec_driver_sql(f'CREATE DATABASE "{_checked(name)}"{suffix}')
    engine.dispose()
    return database_url(server_url, name)


def generated_contacts(url: str) -> int | None:
    """Contacts in a generated staging database, or None if there is no such database or table."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT count(*) FROM crm_entity WHERE entity_type = 'contact'")
            ).scalar_one()
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def database_size_mb(url: str) -> float:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
    engine.dispose()
    return round(size / 2**20, 1)


def prepare_generated(server_url: str, name: str, contacts: int, seed: int, reuse: bool, logs: Path) -> dict:
    """The generated CRM ``name`` with ``contacts`` contacts: reused (``reuse`` and the same count)
    or created and generated in a child process. Returns what was done."""
    url = database_url(server_url, name)
    if reuse and generated_contacts(url) == contacts:
        log(f"{name}: reusing the generated CRM ({contacts:,} contacts)")
        return {"database": name, "generated": False, "size_mb": database_size_mb(url)}
    log(f"{name}: generating {contacts:,} contacts (seed {seed})")
    create_database(server_url, name)
    step = run_step("bench.common.pg:generate_step", logs, url=url, contacts=contacts, seed=seed)
    log(f"{name}: generated {step['rows']:,} rows in {step['seconds']:.0f} s")
    return {
        "database": name,
        "generated": True,
        "generate_s": step["seconds"],
        "rows": step["rows"],
        "size_mb": database_size_mb(url),
    }


def generate_step(url: str, contacts: int, seed: int) -> dict:
    """Child step: migrate, generate, ``VACUUM ANALYZE`` (as a DBA would after a bulk load)."""
    from include.crm_sync.generate import generate

    summary = generate(url, contacts, seed, migrate=True)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return {"seconds": round(summary.seconds, 1), "rows": summary.total_rows}
