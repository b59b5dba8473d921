"""The Flexmail label record: who carries each label by our doing, the removal backlog, imports.

Written only from confirmed answers: a member row appears (pending) once the import chunk that
carries it was accepted, becomes confirmed when the import completed, and is deleted with its
backlog row once Flexmail confirmed the removal (204, or 404: not carried). Recording a label
nobody carries is the safe direction (its removal is a harmless 404); recording less than what
Flexmail holds would leave a label on someone who must lose it, so nothing is ever dropped
before Flexmail confirmed.

Flexmail keys contacts by address, so a label is removed only when NO entity with the member's
address is in the label's snapshot (``_still_qualifies``): two CRM entities may share an address,
and the snapshot keeps one of them, not necessarily the one recorded.

Removal urgency: 0 for a member whose consent for the list is not granted, who bounced, or who is
gone from the CRM; 1 for one who merely left the selection. Urgent removals go first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from include.crm_sync.staging.tables import crm_consent as C
from include.crm_sync.staging.tables import crm_entity as E
from include.crm_sync.staging.tables import flexmail_import as I
from include.crm_sync.staging.tables import flexmail_label_member as M
from include.crm_sync.staging.tables import flexmail_removal as R
from include.crm_sync.staging.tables import list_snapshot as S

URGENT, LEFT_SELECTION = 0, 1


@dataclass(frozen=True)
class Removal:
    label_name: str
    member_id: str
    email: str
    contact_id: int | None
    urgency: int


@dataclass(frozen=True)
class BacklogStats:
    size: int
    urgent: int
    without_contact_id: int


def _insert(conn: sa.Connection, table: sa.Table):  # noqa: ANN202 - a dialect's insert construct
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _still_qualifies(list_run_id: int, table: sa.Table) -> sa.ColumnElement[bool]:
    """The member (a row of ``table``: member id and address) or another entity with its address is
    in the snapshot of ``list_run_id``: the contact must keep the label. Two EXISTS, each on one of
    the snapshot's unique indexes (list run + entity id, list run + address)."""
    by_entity = sa.exists().where(S.c.list_run_id == list_run_id, S.c.recipient_id == table.c.member_id)
    by_address = sa.exists().where(S.c.list_run_id == list_run_id, S.c.email == table.c.email)
    return sa.or_(by_entity, by_address)


def enqueue_leavers(conn: sa.Connection, label: str, list_run_id: int, consent_id: str, now: datetime) -> int:
    """Queue every member of ``label`` whose address is not in the snapshot of ``list_run_id``; the
    number queued."""
    in_snapshot = _still_qualifies(list_run_id, M)
    queued = sa.exists().where(R.c.label_name == M.c.label_name, R.c.member_id == M.c.member_id)
    reason = sa.case(
        (E.c.entity_id.is_(None), "entity_gone"),
        (E.c.is_bounced.is_(True), "bounced"),
        (sa.or_(C.c.status.is_(None), C.c.status != "granted"), "consent_revoked"),
        else_="left_selection",
    )
    urgency = sa.case((reason == "left_selection", LEFT_SELECTION), else_=URGENT)
    source = (
        sa.select(
            M.c.label_name, M.c.member_id, M.c.email, reason, urgency, sa.literal(now, R.c.enqueued_at.type)
        )
        .select_from(
            M.outerjoin(E, E.c.entity_id == M.c.member_id).outerjoin(
                C, sa.and_(C.c.entity_id == M.c.member_id, C.c.consent_id == consent_id)
            )
        )
        .where(M.c.label_name == label, ~in_snapshot, ~queued)
    )
    result = conn.execute(
        R.insert().from_select(
            ["label_name", "member_id", "email", "reason", "urgency", "enqueued_at"], source
        )
    )
    return max(result.rowcount or 0, 0)


def count_new_leavers(conn: sa.Connection, label: str, list_run_id: int) -> int:
    """Members of ``label`` whose address is not in the snapshot of ``list_run_id`` and not queued
    yet: the removals this snapshot would add to the backlog (what the removal volume guard weighs)."""
    in_snapshot = _still_qualifies(list_run_id, M)
    queued = sa.exists().where(R.c.label_name == M.c.label_name, R.c.member_id == M.c.member_id)
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(M).where(M.c.label_name == label, ~in_snapshot, ~queued)
        ).scalar_one()
    )


def count_returning(conn: sa.Connection, label: str, list_run_id: int) -> int:
    """Queued removals ``cancel_returning`` would cancel (a dry run's count)."""
    back = _still_qualifies(list_run_id, R)
    return int(conn.execute(sa.select(sa.func.count()).where(R.c.label_name == label, back)).scalar_one())


def count_gaining(conn: sa.Connection, label: str, list_run_id: int) -> int:
    """Entities of the snapshot of ``list_run_id`` not recorded on ``label``: the (label, entity)
    pairs the import would carry (at most; an address may carry the label already)."""
    recorded = sa.exists().where(M.c.label_name == label, M.c.member_id == S.c.recipient_id)
    return int(
        conn.execute(sa.select(sa.func.count()).where(S.c.list_run_id == list_run_id, ~recorded)).scalar_one()
    )


def cancel_returning(conn: sa.Connection, label: str, list_run_id: int) -> int:
    """Members queued for removal who qualify again -- or whose address another entity now
    qualifies with -- keep the label they still carry."""
    back = _still_qualifies(list_run_id, R)
    return conn.execute(sa.delete(R).where(R.c.label_name == label, back)).rowcount or 0


def backlog_page(conn: sa.Connection, limit: int) -> list[Removal]:
    rows = conn.execute(
        sa.select(R.c.label_name, R.c.member_id, R.c.email, R.c.contact_id, R.c.urgency)
        .order_by(R.c.urgency, R.c.enqueued_at, R.c.label_name, R.c.member_id)
        .limit(limit)
    ).all()
    return [Removal(*row) for row in rows]


def backlog_stats(conn: sa.Connection) -> BacklogStats:
    size, urgent, unresolved = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((R.c.urgency == URGENT, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((R.c.contact_id.is_(None), 1), else_=0)), 0),
        )
    ).one()
    return BacklogStats(int(size), int(urgent), int(unresolved))


def set_contact_id(conn: sa.Connection, email: str, contact_id: int) -> None:
    """Remember the Flexmail contact id for every queued removal of this address (one lookup each)."""
    conn.execute(sa.update(R).where(R.c.email == email).values(contact_id=contact_id))


def set_contact_ids(conn: sa.Connection, ids_by_email: dict[str, int]) -> int:
    """Contact ids learned from a page of the account's contacts, for the queued removals among them."""
    if not ids_by_email:
        return 0
    wanted = (
        conn.execute(sa.select(R.c.email).where(R.c.email.in_(list(ids_by_email))).distinct()).scalars().all()
    )
    for email in wanted:
        conn.execute(sa.update(R).where(R.c.email == email).values(contact_id=ids_by_email[email]))
    return len(wanted)


def removal_done(conn: sa.Connection, label: str, member_id: str) -> None:
    conn.execute(sa.delete(R).where(R.c.label_name == label, R.c.member_id == member_id))
    conn.execute(sa.delete(M).where(M.c.label_name == label, M.c.member_id == member_id))


def address_gone(conn: sa.Connection, email: str) -> int:
    """No Flexmail contact has this address: nobody carries its labels; drop its removals."""
    rows = conn.execute(sa.select(R.c.label_name, R.c.member_id).where(R.c.email == email)).all()
    for label, member_id in rows:
        removal_done(conn, label, member_id)
    return len(rows)


def drop_label(conn: sa.Connection, label: str) -> int:
    """The label no longer exists in the account: nobody carries it."""
    conn.execute(sa.delete(M).where(M.c.label_name == label))
    return conn.execute(sa.delete(R).where(R.c.label_name == label)).rowcount or 0


def record_chunk(
    conn: sa.Connection, import_id: str, pairs: Iterable[tuple[str, str, str]], records: int, now: datetime
) -> None:
    """A records call was accepted: (label, member id, email) pairs become pending members."""
    rows = [
        {
            "label_name": label,
            "member_id": member,
            "email": email,
            "import_id": import_id,
            "confirmed": False,
            "updated_at": now,
        }
        for label, member, email in pairs
    ]
    if rows:
        conn.execute(
            _insert(conn, M).on_conflict_do_nothing(index_elements=[M.c.label_name, M.c.member_id]), rows
        )
    conn.execute(
        sa.update(I)
        .where(I.c.import_id == import_id)
        .values(chunks_sent=I.c.chunks_sent + 1, records_sent=I.c.records_sent + records)
    )


def confirm_import(conn: sa.Connection, import_id: str, report: dict[str, int] | None, now: datetime) -> None:
    conn.execute(sa.update(M).where(M.c.import_id == import_id).values(confirmed=True, updated_at=now))
    conn.execute(
        sa.update(I)
        .where(I.c.import_id == import_id)
        .values(status="completed", report=report, finished_at=now)
    )


def fail_import(conn: sa.Connection, import_id: str, message: str, now: datetime) -> None:
    """The import failed: its labels were not added; its contacts are imported again next time."""
    conn.execute(sa.delete(M).where(M.c.import_id == import_id, M.c.confirmed.is_(False)))
    conn.execute(
        sa.update(I)
        .where(I.c.import_id == import_id)
        .values(status="failed", message=message, finished_at=now)
    )


def unfinished_imports(conn: sa.Connection) -> list[sa.Row]:
    return list(
        conn.execute(
            sa.select(I).where(I.c.status.in_(("building", "queued"))).order_by(I.c.created_at, I.c.import_id)
        ).all()
    )


def imports_of_run(conn: sa.Connection, run_id: str) -> int:
    return conn.execute(sa.select(sa.func.count()).where(I.c.run_id == run_id)).scalar_one()


def count_members(conn: sa.Connection, labels: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(
        sa.select(M.c.label_name, sa.func.count()).where(M.c.label_name.in_(labels)).group_by(M.c.label_name)
    ).all()
    return {label: 0 for label in labels} | {label: int(n) for label, n in rows}


def count_in_snapshot(conn: sa.Connection, label: str, list_run_id: int) -> int:
    """Members recorded on ``label`` who are in the snapshot of ``list_run_id``."""
    in_snapshot = sa.exists().where(S.c.list_run_id == list_run_id, S.c.recipient_id == M.c.member_id)
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(M).where(M.c.label_name == label, in_snapshot)
        ).scalar_one()
    )


def backlog_of(conn: sa.Connection, labels: Sequence[str]) -> dict[str, int]:
    """Removals still queued per label."""
    rows = conn.execute(
        sa.select(R.c.label_name, sa.func.count()).where(R.c.label_name.in_(labels)).group_by(R.c.label_name)
    ).all()
    return {label: 0 for label in labels} | {label: int(n) for label, n in rows}
