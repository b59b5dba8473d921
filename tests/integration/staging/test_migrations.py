"""Alembic migrations: up from empty on both dialects, idempotent, and equal to tables.metadata."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url

from include.crm_sync.extract.partitions import include_name, is_partition
from include.crm_sync.staging import migrate
from include.crm_sync.staging.engine import PROJECT_ROOT, create_staging_engine
from include.crm_sync.staging.migrate import alembic_config, current_revision, head_revision, upgrade
from include.crm_sync.staging.tables import crm_consent_type, metadata

WRITES = re.compile(r"^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def _table_names(url: str) -> set[str]:
    engine = create_staging_engine(url)
    try:
        return {name for name in sa.inspect(engine).get_table_names() if not is_partition(name)}
    finally:
        engine.dispose()


def _diff(engine: sa.Engine, target: sa.MetaData) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "compare_server_default": True, "include_name": include_name},
        )
        return compare_metadata(context, target)


class _StatementRecorder:
    """Every SQL statement any engine sends while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append(statement)

    def __enter__(self) -> _StatementRecorder:
        sa.event.listen(sa.Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(sa.Engine, "before_cursor_execute", self)


def test_upgrade_from_empty_reaches_head_and_a_rerun_changes_nothing(fresh_url):
    assert current_revision(fresh_url) is None
    upgrade(fresh_url)
    assert current_revision(fresh_url) == head_revision()
    assert _table_names(fresh_url) == set(metadata.tables) | {"alembic_version"}

    engine = create_staging_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(crm_consent_type.insert().values(consent_id="newsletter", name="N"))
    with _StatementRecorder() as recorder:
        upgrade(fresh_url)
    assert recorder.statements, "the recorder saw nothing; the check below would be vacuous"
    assert [s for s in recorder.statements if WRITES.match(s)] == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(crm_consent_type.c.consent_id)).scalars().all() == ["newsletter"]
    engine.dispose()
    assert current_revision(fresh_url) == head_revision()


def test_sqlite_upgrade_leaves_a_self_contained_file(tmp_path):
    """The test fixture copies the migrated file: nothing may be left in a -wal file."""
    path = tmp_path / "staging.db"
    upgrade(f"sqlite:///{path}")
    assert path.exists() and not Path(f"{path}-wal").exists()


def test_current_revision_of_a_missing_sqlite_file_is_none_and_creates_nothing(tmp_path):
    path = tmp_path / "nowhere" / "staging.db"
    assert current_revision(f"sqlite:///{path}") is None
    assert not path.parent.exists()


def test_migrated_schema_equals_the_table_metadata(staging_engine):
    assert _diff(staging_engine, metadata) == []


def test_the_schema_comparison_would_notice_a_difference(staging_engine):
    """Guards the test above against comparing nothing: a changed copy of the metadata differs."""
    changed = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["crm_entity"].c.city.type = sa.String(100)
    changed.tables["sync_run"].c.dry_run.server_default = sa.DefaultClause("1")
    sa.Table("extra", changed, sa.Column("x", sa.Integer, primary_key=True))
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in _diff(staging_engine, changed)}
    assert {"add_table", "modify_type", "modify_default"} <= kinds


def test_downgrade_to_base_and_upgrade_again(fresh_url):
    upgrade(fresh_url)
    command.downgrade(alembic_config(fresh_url), "base")
    assert current_revision(fresh_url) is None
    assert _table_names(fresh_url) == {"alembic_version"}
    upgrade(fresh_url)
    assert current_revision(fresh_url) == head_revision()


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_upgrades_in_processes_all_succeed(fresh_pg_url):
    """Airflow tasks may all migrate at start: they queue on the advisory lock and the later ones
    do nothing. (SQLite serialises them with BEGIN IMMEDIATE; a process race there is too
    timing-dependent to prove anything, the threaded test below covers the in-process lock.)"""
    fresh_url = fresh_pg_url
    command_line = [sys.executable, "-m", "include.crm_sync.staging.migrate", "--url", fresh_url]
    processes = [
        subprocess.Popen(
            command_line, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert current_revision(fresh_url) == head_revision()
    assert sum("Running upgrade" in out for out in outputs) >= 1


def test_concurrent_upgrades_in_threads_all_succeed(fresh_url):
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(fresh_url)
        except BaseException as exc:  # collected and checked in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert current_revision(fresh_url) == head_revision()


def test_cli_migrates_logs_the_url_without_password_and_reruns_as_no_op(fresh_url, caplog):
    url = fresh_url
    if make_url(url).get_backend_name() == "postgresql":
        url = make_url(url).set(password="pw-not-in-logs").render_as_string(hide_password=False)
    caplog.set_level(logging.INFO)
    assert migrate.main(["--url", url]) == 0
    assert migrate.main(["--url", url]) == 0
    assert "pw-not-in-logs" not in caplog.text
    assert f"from <empty> to {head_revision()}" in caplog.text and "nothing to do" in caplog.text


def test_cli_reports_failure_with_exit_code(tmp_path, caplog):
    assert migrate.main(["--url", f"sqlite:///{tmp_path / 'x.db'}", "--revision", "9999"]) == 1
