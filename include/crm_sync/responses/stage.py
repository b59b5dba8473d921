"""Per-connection temporary tables of the response apply, and the fastest bulk insert per dialect.

``tmp_response_stage`` holds every valid line of one file (PostgreSQL: ``COPY``; SQLite: one
``executemany`` per chunk); ``tmp_response_first`` one row per distinct event (its first line) with
the CRM entity and campaign it maps to and what becomes of it. Everything after loading is
set-based SQL (``sql/responses``). The tables live for the apply transaction only: dropped before
(a pooled SQLite connection may keep them from an aborted attempt) and after use.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Column, Integer, MetaData, String, Table

from include.crm_sync.imports.apply_session import TEMPORARY
from include.crm_sync.responses.file_format import LINK_MAX
from include.crm_sync.responses.parse import STAGE_COLUMNS
from include.crm_sync.staging.dml import insert_columns
from include.crm_sync.staging.tables import ID
from include.crm_sync.staging.types import UTCDateTime

_meta = MetaData()

#: one row per valid line of the file
stage = Table(
    "tmp_response_stage",
    _meta,
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("event_key", String(64), nullable=False),
    Column("recipient_id", ID, nullable=False),
    Column("entity_type", String(16)),
    Column("entity_id", ID),
    Column("crm_key", ID, nullable=False),
    Column("list_id", String(64)),
    Column("mailing_id", String(64)),  # a bounce/unsubscribe may lack it
    Column("wave_id", ID),
    Column("event_type", String(16), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("link_url", String(LINK_MAX)),
    **TEMPORARY,
)
#: one row per distinct event of the file (its first line), classified
first = Table(
    "tmp_response_first",
    _meta,
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("event_key", String(64), nullable=False),
    Column("recipient_id", ID, nullable=False),
    Column("entity_type", String(16)),
    Column("entity_id", ID),
    Column("crm_entity_id", ID),
    Column("list_id", String(64)),
    Column("mailing_id", String(64)),  # a bounce/unsubscribe may lack it
    Column("crm_campaign_id", ID),
    Column("event_type", String(16), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("link_url", String(LINK_MAX)),
    Column("status", String(24), nullable=False),
    **TEMPORARY,
)
TABLES = (stage, first)


def insert_rows(conn: sa.Connection, columns: dict[str, Sequence]) -> None:
    """Append column-wise rows (``parse.STAGE_COLUMNS``; ``occurred_at`` as ``…T…Z`` UTC text)."""
    insert_columns(conn, stage, STAGE_COLUMNS, [columns[n] for n in STAGE_COLUMNS], time_column="occurred_at")
