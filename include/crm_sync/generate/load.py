"""``generate()``: stream a generated CRM data set into an empty staging database.

One transaction for the whole load: either the complete data set is there afterwards or nothing
is (a retry then needs no ``--replace``). Blocks from ``people`` are grouped into chunks of about
``chunk_size`` entities and written table by table, parents first, so memory stays flat however
many contacts are asked for. Progress (rows, rows/s) is logged every few seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
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
    Block,
    GenerationSpec,
    GenerationSummary,
)
from include.crm_sync.generate.people import iter_blocks
from include.crm_sync.generate.writers import writer_for
from include.crm_sync.staging import tables
from include.crm_sync.staging.engine import create_staging_engine, masked_url
from include.crm_sync.staging.migrate import current_revision, head_revision, upgrade

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 25_000
_PROGRESS_EVERY_SECONDS = 5.0


class StagingNotReadyError(RuntimeError):
    """The target database is not migrated to the current schema revision."""


class StagingNotEmptyError(RuntimeError):
    """The target database already holds data and ``replace`` was not asked for."""


def chunks(blocks: Iterable[Block], chunk_size: int) -> Iterator[Block]:
    """Whole blocks merged until a chunk holds at least ``chunk_size`` entities (or blocks run out)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    pending = Block()
    for block in blocks:
        pending.extend(block)
        if len(pending.entities) >= chunk_size:
            yield pending
            pending = Block()
    if len(pending):
        yield pending


def _non_empty_tables(connection: sa.Connection) -> list[str]:
    """Names of the staging tables that hold at least one row."""
    found = []
    for table in tables.metadata.sorted_tables:
        if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
            found.append(table.name)
    return found


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
) -> GenerationSummary:
    """Fill the empty staging database at ``url`` with ``contacts`` contacts and what goes with them.

    ``replace`` empties every staging table first (in the same transaction); without it a
    non-empty database is refused. ``migrate`` upgrades the schema to head first; without it a
    database that is not at head is refused. Same spec (contacts, seed, ratios, as_of) -> same rows.
    """
    spec = GenerationSpec(contacts, seed, leads_ratio, accounts_ratio, as_of)
    shown = masked_url(url)
    if migrate:
        upgrade(url)
    revision, head = current_revision(url), head_revision()
    if revision != head:
        raise StagingNotReadyError(
            f"staging database {shown} is at schema revision {revision or '<none>'}, not {head}: run "
            f"'python -m include.crm_sync.staging.migrate --url ...' first or pass --migrate"
        )
    targets = {name: tables.metadata.tables[name] for name in GENERATED_TABLES}
    rows = dict.fromkeys(targets, 0)
    # NullPool: the connection really closes at the end, so SQLite checkpoints its WAL into the file.
    engine = create_staging_engine(url, poolclass=NullPool)
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            writer = writer_for(connection)
            with writer.load_transaction([targets[name] for name in GENERATED_TABLES]):
                occupied = _non_empty_tables(connection)
                if occupied and not replace:
                    raise StagingNotEmptyError(
                        f"staging database {shown} is not empty (rows in {', '.join(occupied)}); generate "
                        f"into an empty database, or pass --replace to empty all staging tables first"
                    )
                if occupied:
                    log.warning("Emptying %d staging tables of %s (--replace)", len(occupied), shown)
                    writer.clear(tables.metadata.sorted_tables)
                log.info(
                    "Generating %d contacts, %d leads, %d accounts (seed %d) into %s",
                    spec.contacts, spec.leads, spec.accounts, seed, shown,
                )
                writer.write(targets["crm_consent_type"], CONSENT_TYPE_COLUMNS, CONSENT_TYPES)
                writer.write(targets["crm_marketing_list"], MARKETING_LIST_COLUMNS, MARKETING_LISTS)
                rows["crm_consent_type"], rows["crm_marketing_list"] = len(CONSENT_TYPES), len(MARKETING_LISTS)
                _load(writer, targets, spec, chunk_size, rows, started)
                log.info("All rows written; checking foreign keys and committing")
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
        f"{summary.total_rows:,}", summary.seconds, f"{summary.rows_per_second:,.0f}",
        ", ".join(f"{name} {count:,}" for name, count in rows.items()),
    )
    return summary


def _load(writer, targets: dict[str, sa.Table], spec: GenerationSpec, chunk_size: int,
          rows: dict[str, int], started: float) -> None:
    total_entities = spec.contacts + spec.leads + spec.accounts
    last_log = started
    for chunk in chunks(iter_blocks(spec), chunk_size):
        writer.write(targets["crm_entity"], ENTITY_COLUMNS, chunk.entities)
        writer.write(targets["crm_consent"], CONSENT_COLUMNS, chunk.consents)
        writer.write(targets["crm_marketing_list_member"], MEMBER_COLUMNS, chunk.members)
        rows["crm_entity"] += len(chunk.entities)
        rows["crm_consent"] += len(chunk.consents)
        rows["crm_marketing_list_member"] += len(chunk.members)
        now = time.perf_counter()
        if now - last_log >= _PROGRESS_EVERY_SECONDS or rows["crm_entity"] == total_entities:
            last_log = now
            written = sum(rows.values())
            log.info(
                "%s/%s entities (%.0f%%), %s rows, %s rows/s",
                f"{rows['crm_entity']:,}", f"{total_entities:,}",
                100.0 * rows["crm_entity"] / max(total_entities, 1),
                f"{written:,}", f"{written / max(now - started, 1e-9):,.0f}",
            )
