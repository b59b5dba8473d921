"""The generator against real databases: exact content, determinism, safety, and realism in SQL."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url

from include.crm_sync.extract.partitions import include_name
from include.crm_sync.generate import (
    GenerationSpec,
    StagingNotEmptyError,
    StagingNotReadyError,
    generate,
    iter_blocks,
)
from include.crm_sync.generate import __main__ as cli
from include.crm_sync.generate.model import CONSENT_TYPES, GENERATED_TABLES, MARKETING_LISTS
from include.crm_sync.generate.writers import writer_class
from include.crm_sync.staging.engine import masked_url
from include.crm_sync.staging.migrate import current_revision
from include.crm_sync.staging.tables import (
    crm_consent,
    crm_entity,
    crm_marketing_list_member,
    metadata,
)
from include.crm_sync.staging.types import UTCDateTime

CONTACTS = 2_300  # three blocks, the last one partial


def _typed(table: sa.Table, row: tuple) -> tuple:
    """A generated text row as SQLAlchemy returns it from the database (both dialects)."""
    out = []
    for column, value in zip(table.columns, row, strict=True):
        if value is None:
            out.append(None)
        elif isinstance(column.type, sa.JSON):
            out.append(json.loads(value))
        elif isinstance(column.type, sa.Boolean):
            out.append(value == "1")
        elif isinstance(column.type, UTCDateTime):
            out.append(datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC))
        else:
            out.append(value)
    return tuple(out)


def _expected(spec: GenerationSpec) -> dict[str, list[tuple]]:
    tables = metadata.tables
    expected = {
        "crm_consent_type": [_typed(tables["crm_consent_type"], r) for r in CONSENT_TYPES],
        "crm_marketing_list": [_typed(tables["crm_marketing_list"], r) for r in MARKETING_LISTS],
        "crm_entity": [],
        "crm_consent": [],
        "crm_marketing_list_member": [],
    }
    for block in iter_blocks(spec):
        expected["crm_entity"] += [_typed(crm_entity, r) for r in block.entities]
        expected["crm_consent"] += [_typed(crm_consent, r) for r in block.consents]
        expected["crm_marketing_list_member"] += [_typed(crm_marketing_list_member, r) for r in block.members]
    return {name: sorted(rows, key=repr) for name, rows in expected.items()}


def _dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            name: sorted((tuple(r) for r in conn.execute(sa.select(metadata.tables[name]))), key=repr)
            for name in GENERATED_TABLES
        }


def _digest(engine: sa.Engine) -> str:
    return hashlib.sha256(repr(_dump(engine)).encode()).hexdigest()


def test_database_holds_exactly_the_generated_rows(staging_url, staging_engine):
    spec = GenerationSpec(CONTACTS, seed=7)
    url = staging_url
    if staging_engine.dialect.name == "postgresql":  # the local server trusts; the password is for the log
        url = make_url(url).set(password="pw-not-in-logs").render_as_string(hide_password=False)
    summary = generate(url, CONTACTS, seed=7)
    dumped = _dump(staging_engine)
    assert dumped == _expected(spec)
    assert summary.rows == {name: len(rows) for name, rows in dumped.items()}
    assert (summary.contacts, summary.leads, summary.accounts) == (CONTACTS, spec.leads, spec.accounts)
    assert summary.total_rows == sum(summary.rows.values()) and summary.rows_per_second > 0
    assert summary.url == masked_url(url) and "pw-not-in-logs" not in summary.url


def test_same_seed_same_data_whatever_the_chunking_or_process(staging_url, staging_engine):
    generate(staging_url, CONTACTS, seed=7, chunk_size=1, parallel=False)
    first = _digest(staging_engine)
    generate(staging_url, CONTACTS, seed=7, chunk_size=100_000, parallel=True, replace=True)
    assert _digest(staging_engine) == first
    generate(staging_url, CONTACTS, seed=8, replace=True)
    assert _digest(staging_engine) != first


def test_non_empty_database_is_refused_and_left_alone(staging_url, staging_engine):
    generate(staging_url, 500, seed=1)
    before = _digest(staging_engine)
    with pytest.raises(StagingNotEmptyError, match="--replace"):
        generate(staging_url, 500, seed=2)
    assert _digest(staging_engine) == before


def test_any_staging_table_with_rows_makes_the_database_non_empty(staging_url, staging_engine):
    with staging_engine.begin() as conn:
        conn.execute(
            metadata.tables["sync_run"]
            .insert()
            .values(run_id="r1", status="success", started_at=datetime(2025, 1, 1, tzinfo=UTC))
        )
    with pytest.raises(StagingNotEmptyError, match="sync_run"):
        generate(staging_url, 10, seed=1)
    generate(staging_url, 10, seed=1, replace=True)  # --replace empties it
    with staging_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(metadata.tables["sync_run"])).scalar() == 0


def test_a_failed_load_leaves_the_database_empty_and_the_schema_intact(
    staging_url, staging_engine, monkeypatch
):
    cls = writer_class(staging_engine.dialect.name)
    original = cls.write_encoded
    calls = []

    def failing(self, table, columns, payload):
        calls.append(table.name)
        if table.name == "crm_consent" and calls.count("crm_consent") == 2:
            raise RuntimeError("disk full (simulated)")
        return original(self, table, columns, payload)

    monkeypatch.setattr(cls, "write_encoded", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        generate(staging_url, CONTACTS, seed=1, chunk_size=1, parallel=False)
    with staging_engine.connect() as conn:
        for name in GENERATED_TABLES:
            assert conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[name])).scalar() == 0
        assert (
            compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name}),
                metadata,
            )
            == []
        )


def test_schema_foreign_keys_and_indexes_are_unchanged_by_a_load(staging_url, staging_engine):
    generate(staging_url, 500, seed=1)
    with staging_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True, "include_name": include_name}
        )
        assert compare_metadata(context, metadata) == []
        fks = {
            fk["name"]
            for name in ("crm_consent", "crm_marketing_list_member")
            for fk in sa.inspect(conn).get_foreign_keys(name)
        }
        assert fks == {
            fk.name
            for name in ("crm_consent", "crm_marketing_list_member")
            for fk in metadata.tables[name].foreign_key_constraints
        }
        with pytest.raises(sa.exc.IntegrityError):  # ... and enforced again
            conn.execute(
                crm_consent.insert().values(
                    entity_id="C404",
                    consent_id="events",
                    status="granted",
                    source="crm",
                    updated_at=datetime(2025, 1, 1, tzinfo=UTC),
                )
            )


def test_the_data_has_what_the_sync_tests_need(staging_url, staging_engine):
    """Realism, checked with SQL where the sync will meet it."""
    generate(staging_url, CONTACTS, seed=3)
    e, c, m = crm_entity.c, crm_consent.c, crm_marketing_list_member.c
    other = crm_entity.alias("other")
    with staging_engine.connect() as conn:

        def count(query) -> int:
            return conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar()

        types = dict(conn.execute(sa.select(e.entity_type, sa.func.count()).group_by(e.entity_type)).all())
        assert types == {"contact": CONTACTS, "lead": CONTACTS // 5, "account": CONTACTS // 20}
        # A contact and a lead with the same normalised address, written in different case.
        assert (
            count(
                sa.select(e.entity_id)
                .join(
                    other,
                    sa.and_(
                        other.c.email_normalized == e.email_normalized,
                        other.c.entity_type == "lead",
                        other.c.email != e.email,
                    ),
                )
                .where(e.entity_type == "contact")
            )
            >= 10
        )
        assert count(sa.select(e.entity_id).where(e.email.is_(None))) > 0
        dirty = sa.select(e.entity_id).where(e.email != e.email_normalized, e.email_normalized != "")
        assert count(dirty) > 0
        assert count(sa.select(e.entity_id).where(e.email_normalized.not_like("%_@_%._%"))) > 10
        assert count(sa.select(e.entity_id).where(e.email_normalized.like("%@blocked.example"))) > 0
        assert count(sa.select(e.entity_id).where(e.email_normalized.like("postmaster@%"))) > 0
        assert count(sa.select(e.entity_id).where(e.is_bounced.is_(True))) > 0
        names = conn.execute(sa.select(e.first_name, e.last_name)).all()
        text = " ".join(f"{first} {last}" for first, last in names)
        assert all(ch in text for ch in "äéł") and any("\u4e00" <= ch <= "\u9fff" for ch in text)
        statuses = dict(conn.execute(sa.select(c.status, sa.func.count()).group_by(c.status)).all())
        assert statuses["revoked"] > 0 and statuses["granted"] > statuses["revoked"]
        assert count(sa.select(c.entity_id).where(c.status == "revoked", c.revoked_at.is_(None))) == 0
        consent_ids = set(conn.execute(sa.select(c.consent_id).distinct()).scalars())
        assert consent_ids == {"newsletter", "product_updates", "events", "service"}
        lists = dict(conn.execute(sa.select(m.list_key, sa.func.count()).group_by(m.list_key)).all())
        assert set(lists) == {"nl_customers", "webinar_attendees", "vip_accounts", "de_prospects"}
        assert all(n > 0 for n in lists.values())


@pytest.mark.parametrize("contacts", [0, 1])
def test_tiny_data_sets_load(staging_url, staging_engine, contacts):
    """Chunks with no rows for a table (no members, no leads) must not trip the writers."""
    summary = generate(staging_url, contacts, seed=1)
    assert summary.rows["crm_entity"] == contacts
    assert _dump(staging_engine) == _expected(GenerationSpec(contacts, seed=1))


def test_unmigrated_database_is_refused_unless_asked_to_migrate(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    with pytest.raises(StagingNotReadyError, match="--migrate"):
        generate(url, 10, seed=1)
    summary = generate(url, 10, seed=1, migrate=True)
    assert current_revision(url) is not None and summary.rows["crm_entity"] == 10 + 2 + 0


def test_cli_exit_codes_and_log(staging_url, caplog):
    caplog.set_level(logging.INFO)
    assert cli.main(["--contacts", "200", "--seed", "4", "--url", staging_url]) == 0
    assert "rows/s" in caplog.text
    assert cli.main(["--contacts", "200", "--seed", "4", "--url", staging_url]) == 2
    assert "not empty" in caplog.text
    assert cli.main(["--contacts", "200", "--seed", "4", "--url", staging_url, "--replace"]) == 0


@pytest.mark.postgres
def test_postgres_role_that_does_not_own_the_tables_still_loads(pg_staging_url, caplog):
    """Without ownership foreign keys and indexes cannot be dropped: the load keeps them, and works."""
    role = f"crm_gen_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_staging_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} CASCADE")
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        conn.exec_driver_sql(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    try:
        caplog.set_level(logging.WARNING)
        url = make_url(pg_staging_url).set(username=role).render_as_string(hide_password=False)
        summary = generate(url, 300, seed=5)
        assert "maintained row by row" in caplog.text
        engine = sa.create_engine(pg_staging_url)
        try:
            assert _dump(engine) == _expected(GenerationSpec(300, seed=5))
        finally:
            engine.dispose()
        assert summary.rows["crm_entity"] == 300 + 60 + 15
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def test_foreign_keys_are_still_verified_when_checked_at_the_end(staging_url, staging_engine, monkeypatch):
    """Rows are loaded with per-row checks off; a dangling reference must still fail the load."""
    from include.crm_sync.generate import pipeline

    def dangling(spec, chunk_size, encode):
        block = next(iter_blocks(spec))
        consent = ("C99999999",) + block.consents[0][1:]  # an entity that does not exist
        yield pipeline.EncodedChunk(
            encode(block.entities, 16), encode([consent], 7), encode([], 2), (len(block.entities), 1, 0)
        )

    monkeypatch.setattr(pipeline, "encoded_chunks", dangling)
    with pytest.raises((sa.exc.IntegrityError, RuntimeError), match="(?i)foreign key"):
        generate(staging_url, 1, seed=1, parallel=False)
    with staging_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(crm_entity)).scalar() == 0
