"""The fail-safe of every import: a rejected row that names a person the CRM knows holds that person.

A bounce or unsubscribe row that cannot be applied (no field identifies its person well enough, an
unknown category or event type) may still be somebody's "no". If any of its values is an entity
id or a normalised address the CRM knows, every such entity gets an open ``crm_feedback_hold`` row
and every extraction leaves it out (reason ``feedback_held``) until an operator resolves the hold
(``python -m include.crm_sync.feedback.holds``). Holds are keyed by (file, line, entity): applying
the same file again adds none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from include.crm_sync.imports.row_checks import printable
from include.crm_sync.staging.dml import insert_ignoring_conflicts
from include.crm_sync.staging.tables import EMAIL, ID, crm_entity, crm_feedback_hold, file_ledger

_IN_BATCH = 500
_REASON_MAX = 1000


@dataclass(frozen=True, slots=True)
class HoldCandidate:
    """A rejected row: its line, reason, and every id and address it names (as read)."""

    line_no: int
    reason: str
    ids: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: int
    entity_id: str
    email_normalized: str | None
    file_id: int
    file_name: str
    line_no: int
    reason: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


def _clean_id(value: str) -> str | None:
    value = printable(value).strip()
    return value if value and len(value) <= ID.length else None


def _clean_address(value: str) -> str | None:
    value = printable(value).strip().lower()
    return value if value and len(value) <= EMAIL.length else None


def hold_people(
    conn: sa.Connection, file_id: int, candidates: Sequence[HoldCandidate], now: datetime
) -> set[str]:
    """Hold every CRM entity the ``candidates`` name; returns the entity ids held by these rows."""
    if not candidates:
        return set()
    by_id: dict[str, list[HoldCandidate]] = {}
    by_address: dict[str, list[HoldCandidate]] = {}
    for candidate in candidates:
        for value in {v for v in map(_clean_id, candidate.ids) if v}:
            by_id.setdefault(value, []).append(candidate)
        for value in {v for v in map(_clean_address, candidate.addresses) if v}:
            by_address.setdefault(value, []).append(candidate)
    rows: dict[tuple[int, str], dict] = {}

    def add(entity_id: str, address: str | None, candidate: HoldCandidate) -> None:
        key = (candidate.line_no, entity_id)
        if key not in rows or rows[key]["email_normalized"] is None:
            rows[key] = {
                "entity_id": entity_id,
                "email_normalized": address,
                "file_id": file_id,
                "line_no": candidate.line_no,
                "reason": candidate.reason[:_REASON_MAX],
                "created_at": now,
            }

    for entity_id in _known(conn, crm_entity.c.entity_id, by_id):
        for candidate in by_id[entity_id]:
            add(entity_id, None, candidate)
    for entity_id, address in _known_addresses(conn, by_address):
        for candidate in by_address[address]:
            add(entity_id, address, candidate)
    insert_ignoring_conflicts(conn, crm_feedback_hold, list(rows.values()))
    return {entity_id for _line, entity_id in rows}


def _batches(values: Iterable[str]) -> Iterable[list[str]]:
    values = sorted(values)
    for start in range(0, len(values), _IN_BATCH):
        yield values[start : start + _IN_BATCH]


def _known(conn: sa.Connection, column: sa.Column, values: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for batch in _batches(values):
        found.update(conn.execute(sa.select(column).where(column.in_(batch))).scalars())
    return found


def _known_addresses(conn: sa.Connection, addresses: Iterable[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    column = crm_entity.c.email_normalized
    for batch in _batches(addresses):
        rows = conn.execute(sa.select(crm_entity.c.entity_id, column).where(column.in_(batch)))
        found.extend((r.entity_id, r.email_normalized) for r in rows)
    return found


def list_holds(conn: sa.Connection, *, include_resolved: bool = False) -> list[Hold]:
    """Holds (open ones only unless ``include_resolved``), oldest first."""
    query = (
        sa.select(crm_feedback_hold, file_ledger.c.file_name)
        .join(file_ledger, file_ledger.c.file_id == crm_feedback_hold.c.file_id)
        .order_by(crm_feedback_hold.c.hold_id)
    )
    if not include_resolved:
        query = query.where(crm_feedback_hold.c.resolved_at.is_(None))
    return [
        Hold(
            r.hold_id,
            r.entity_id,
            r.email_normalized,
            r.file_id,
            r.file_name,
            r.line_no,
            r.reason,
            r.created_at,
            r.resolved_at,
            r.resolved_by,
        )
        for r in conn.execute(query)
    ]


def open_hold_count(conn: sa.Connection) -> tuple[int, int]:
    """(open holds, distinct entities they hold)."""
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(crm_feedback_hold.c.entity_id))).where(
            crm_feedback_hold.c.resolved_at.is_(None)
        )
    ).one()
    return int(row[0]), int(row[1])


def resolve_holds(
    conn: sa.Connection,
    *,
    now: datetime,
    resolved_by: str,
    hold_ids: Sequence[int] = (),
    entity_ids: Sequence[str] = (),
    file_id: int | None = None,
) -> int:
    """Resolve the open holds selected by id, entity or file (at least one selector); returns how many."""
    if not (hold_ids or entity_ids or file_id is not None):
        raise ValueError("name the holds to resolve: hold ids, entity ids or a file id")
    selected = []
    if hold_ids:
        selected.append(crm_feedback_hold.c.hold_id.in_(list(hold_ids)))
    if entity_ids:
        selected.append(crm_feedback_hold.c.entity_id.in_(list(entity_ids)))
    if file_id is not None:
        selected.append(crm_feedback_hold.c.file_id == file_id)
    return conn.execute(
        crm_feedback_hold.update()
        .where(crm_feedback_hold.c.resolved_at.is_(None), sa.or_(*selected))
        .values(resolved_at=now, resolved_by=resolved_by[:200])
    ).rowcount
