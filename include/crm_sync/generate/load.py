"""``generate()``: stream a generated CRM data set into an empty staging database.

One transaction for the whole load: either the complete data set is there afterwards or nothing
is (a retry then needs no ``--replace``). Blocks from ``people`` are grouped into chunks of about
``chunk_size`` entities and written table by table, parents first, so memory stays flat however
many contacts are asked for. Progress (rows, rows/s) is logged every few seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from include.crm_sync.generate.model import (
    CONSENT_COLUMNS,
    CONSENT_TYPE_COLUMNS,
    CONSENT_TYPES,
    DEFAULT_AS_OF,
    ENTITY_COLUMNS,
    GENERATED_TABLES,
    MARKETING_LIST_COLUMNS,
    MARKETING_LISTS,
    MEMBER_COLUMNS,
    GenerationSpec,
    GenerationSummary,
)
from include.crm_sync.generate.pipeline import EncodedChunk, chunk_stream
from include.crm_sync.generate.writers import BulkWriter, writer_for
from include.crm_sync.staging import tables
from include.crm_sync.staging.engine import create_staging_engine, masked_url
from include.crm_sync.staging.migrate import current_revision, head_revision, upgrade

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 25_000
#: From this many contacts on, a child process generates while this one writes (see pipeline);
#: below it, starting the process costs more than it saves.
PARALLEL_FROM_CONTACTS = 20_000
_PROGRESS_EVERY_SECONDS = 5.0


class StagingNotReadyError(RuntimeError):
    """The target database is not migrated to the current schema revision."""


class StagingNotEmptyError(RuntimeError):
    """The target database already holds data and ``replace`` was not asked for."""


def _require_head(url: str) -> None:
    revision, head = current_revision(url), head_revision()
    if revision != head:
        raise StagingNotReadyError(
            f"staging database {masked_url(url)} is at schema revision {revision or '<none>'}, not {head}: "
            f"run 'python -m include.crm_sync.staging.migrate --url ...' first, or pass --migrate"
        )


def _make_room(connection: sa.Connection, writer: BulkWriter, replace: bool, shown: str) -> None:
    """Refuse a database with data in any staging table, or empty them all when ``replace``."""
    occupied = [
        table.name
        for table in tables.metadata.sorted_tables
        if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
    ]
    if not occupied:
        return
    if not replace:
        raise StagingNotEmptyError(
            f"staging database {shown} is not empty (rows in {', '.join(occupied)}); generate into an "
            f"empty database, or pass --replace to empty all staging tables first"
        )
    log.warning(
        "Emptying all staging tables of %s first (--replace); rows were in %s", shown, ", ".join(occupied)
    )
    writer.clear(tables.metadata.sorted_tables)


def generate(
    url: str,
    contacts: int,
    seed: int,
    *,
    leads_ratio: float = 0.2,
    accounts_ratio: float = 0.05,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    replace: bool = False,
    migrate: bool = False,
    as_of: datetime = DEFAULT_AS_OF,
    parallel: bool | None = None,
) -> GenerationSummary:
    """Fill the empty staging database at ``url`` with ``contacts`` contacts and what goes with them.

    ``replace`` empties every staging table first (in the same transaction); without it a
    non-empty database is refused. ``migrate`` upgrades the schema to head first; without it a
    database that is not at head is refused. Same spec (contacts, seed, ratios, as_of) -> same rows,
    whatever ``chunk_size`` and ``parallel`` (None: a generator process from
    ``PARALLEL_FROM_CONTACTS`` contacts on).
    """
    spec = GenerationSpec(contacts, seed, leads_ratio, accounts_ratio, as_of)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if parallel is None:
        parallel = spec.contacts >= PARALLEL_FROM_CONTACTS
    shown = masked_url(url)
    if migrate:
        upgrade(url)
    _require_head(url)
    targets = {name: tables.metadata.tables[name] for name in GENERATED_TABLES}
    rows = dict.fromkeys(targets, 0)
    # NullPool: the connection really closes at the end, so SQLite checkpoints its WAL into the file.
    engine = create_staging_engine(url, poolclass=NullPool)
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            writer = writer_for(connection)
            with writer.load_transaction(list(targets.values())):
                _make_room(connection, writer, replace, shown)
                log.info(
                    "Generating %s contacts, %s leads, %s accounts (seed %d) into %s",
                    f"{spec.contacts:,}",
                    f"{spec.leads:,}",
                    f"{spec.accounts:,}",
                    seed,
                    shown,
                )
                writer.write(targets["crm_consent_type"], CONSENT_TYPE_COLUMNS, CONSENT_TYPES)
                writer.write(targets["crm_marketing_list"], MARKETING_LIST_COLUMNS, MARKETING_LISTS)
                rows["crm_consent_type"] = len(CONSENT_TYPES)
                rows["crm_marketing_list"] = len(MARKETING_LISTS)
                with chunk_stream(spec, chunk_size, connection.dialect.name, parallel=parallel) as stream:
                    _write_chunks(writer, targets, stream, spec, rows, started)
                log.info("All rows written; building indexes, checking foreign keys, committing")
    finally:
        engine.dispose()
    summary = GenerationSummary(
        url=shown,
        dialect=engine.dialect.name,
        seed=seed,
        contacts=spec.contacts,
        leads=spec.leads,
        accounts=spec.accounts,
        rows=rows,
        chunk_size=chunk_size,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "Generated %s rows in %.1f s (%s rows/s): %s",
        f"{summary.total_rows:,}",
        summary.seconds,
        f"{summary.rows_per_second:,.0f}",
        ", ".join(f"{name} {count:,}" for name, count in rows.items()),
    )
    return summary


def _write_chunks(
    writer: BulkWriter,
    targets: dict[str, sa.Table],
    stream: Iterable[EncodedChunk],
    spec: GenerationSpec,
    rows: dict[str, int],
    started: float,
) -> None:
    """Write every chunk, children after their parents, counting rows and logging progress."""
    total_entities = spec.contacts + spec.leads + spec.accounts
    last_log = started
    for chunk in stream:
        writer.write_encoded(targets["crm_entity"], ENTITY_COLUMNS, chunk.entities)
        writer.write_encoded(targets["crm_consent"], CONSENT_COLUMNS, chunk.consents)
        writer.write_encoded(targets["crm_marketing_list_member"], MEMBER_COLUMNS, chunk.members)
        entities, consents, members = chunk.counts
        rows["crm_entity"] += entities
        rows["crm_consent"] += consents
        rows["crm_marketing_list_member"] += members
        now = time.perf_counter()
        if now - last_log >= _PROGRESS_EVERY_SECONDS or rows["crm_entity"] == total_entities:
            last_log = now
            written = sum(rows.values())
            log.info(
                "%s/%s entities (%.0f%%), %s rows, %s rows/s",
                f"{rows['crm_entity']:,}",
                f"{total_entities:,}",
                100.0 * rows["crm_entity"] / max(total_entities, 1),
                f"{written:,}",
                f"{written / max(now - started, 1e-9):,.0f}",
            )
