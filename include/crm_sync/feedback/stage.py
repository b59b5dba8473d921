"""Per-connection temporary tables of the apply step, and the fastest bulk insert per dialect.

The rows of one file go into ``tmp_feedback_stage`` (PostgreSQL: ``COPY``; SQLite: one
``executemany`` per chunk), after which everything is set-based SQL between these tables and the
CRM tables. The tables live only for the apply transaction: dropped before (a pooled SQLite
connection may keep them from an aborted attempt) and after use.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Column, Integer, MetaData, String, Table

from include.crm_sync.feedback.load import NORMALISED_COLUMNS
from include.crm_sync.imports.apply_session import TEMPORARY
from include.crm_sync.staging.dml import insert_columns
from include.crm_sync.staging.tables import EMAIL, ID
from include.crm_sync.staging.types import UTCDateTime

_meta = MetaData()


def _event_columns() -> list[Column]:
    return [
        Column("event_key", String(64), nullable=False),
        Column("recipient_id", ID),
        Column("email_normalized", EMAIL),
        Column("category", String(32), nullable=False),
        Column("marks_bounced", Integer, nullable=False),
        Column("occurred_at", UTCDateTime, nullable=False),
        Column("list_id", String(64)),
        Column("consent_id", ID),
        Column("mailing_id", String(64)),
    ]


#: one row per valid line of the file
stage = Table(
    "tmp_feedback_stage",
    _meta,
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    *_event_columns(),
    **TEMPORARY,
)
#: one row per (distinct event, matched entity), the event's columns carried along;
#: entity_id NULL = the event matched no CRM entity
match = Table(
    "tmp_feedback_match",
    _meta,
    Column("line_no", Integer, nullable=False),
    Column("entity_id", ID),
    Column("row_key", String(64), nullable=False),
    *_event_columns(),
    **TEMPORARY,
)
TABLES = (stage, match)
#: what the apply step inserts per row: the loader's normalised columns + the consent of the list
STAGE_INSERT_COLUMNS = (*NORMALISED_COLUMNS, "consent_id")


def insert_rows(conn: sa.Connection, columns: dict[str, Sequence]) -> None:
    """Append column-wise rows (``STAGE_INSERT_COLUMNS``; ``occurred_at`` as ``…T…Z`` UTC text)."""
    insert_columns(
        conn,
        stage,
        STAGE_INSERT_COLUMNS,
        [columns[n] for n in STAGE_INSERT_COLUMNS],
        time_column="occurred_at",
    )
