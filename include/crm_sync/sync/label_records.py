"""The content of a Flexmail contacts import, read from the snapshots of this run's Flexmail lists:
one record per ADDRESS, carrying EVERY interest label any CRM entity with that address qualifies
for.

Flexmail keys contacts by address, and within one import the last record of an address wins: two
entities sharing an address in different lists (each snapshot keeps one entity per address, but
not necessarily the same one) must become one record with the union of their labels, or one
entity's labels would be lost. Rows are therefore read in normalised-address order (the snapshot's
``email`` column is the normalised address, numbered in address order by ``seq``) and the rows of
one address merged; each record keeps the (label, entity) pairs it stands for, which the label
store records.

By default only addresses with at least one (label, entity) pair not yet recorded as carried
(``flexmail_label_member``, pending or confirmed) are included: an import only ever adds, so
importing the rest would cost requests and change nothing. ``everyone=True`` gives every
qualifying address (the operator's full CSV). Pages are keyset-paged on each snapshot's ``seq``,
so memory stays flat at millions of contacts and a page re-read after a crash yields the same
records.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from include.crm_sync.config.models import TECHNICAL_ATTRIBUTES
from include.crm_sync.staging.tables import flexmail_label_member as M
from include.crm_sync.staging.tables import list_run as LR
from include.crm_sync.staging.tables import list_snapshot as S

#: attribute names that fill Flexmail's own contact fields; any other fills a custom field
CONTACT_FIELDS = ("first_name", "name", "language")


@dataclass(frozen=True)
class ImportRecord:
    email: str  #: the normalised address: Flexmail's key of the contact
    labels: tuple[str, ...]  #: interest label names, sorted
    #: (label, CRM entity id) pairs this record carries, in entity then label order
    members: tuple[tuple[str, str], ...]
    fields: dict[str, str] = field(default_factory=dict)
    custom_fields: dict[str, str] = field(default_factory=dict)


def import_pages(
    engine: sa.Engine, list_run_ids: Sequence[int], *, everyone: bool = False, page_size: int = 500
) -> Iterator[list[ImportRecord]]:
    """Pages of at most ``page_size`` records, in address order.

    A k-way merge of the snapshots: each list run is read in ``seq`` order, which is its address
    order (the extraction numbers rows 0..n-1 by address, byte-wise), in windows of ``seq``
    values, from where it stopped, until it yields ``page_size`` candidates or ends. The page is
    the ``page_size`` smallest addresses of all candidates (Python's string order is the byte-wise
    order of UTF-8); each list run's position moves past what the page used. Windows bound every
    query whatever plan the database picks (fresh snapshots have no statistics yet): a page
    costs index range scans and index probes of the record, never a sort of all remaining rows."""
    positions = {list_run_id: -1 for list_run_id in list_run_ids}
    while True:
        with engine.connect() as conn:
            candidates: dict[int, list[tuple[int, str]]] = {}
            scanned: dict[int, int] = {}
            for list_run_id, seq in positions.items():
                candidates[list_run_id], scanned[list_run_id] = _candidates(
                    conn, list_run_id, seq, everyone, page_size
                )
            emails = sorted({email for rows in candidates.values() for _, email in rows})[:page_size]
            if not emails:
                return
            last = emails[-1]
            for list_run_id, rows in candidates.items():
                used = [seq for seq, email in rows if email <= last]
                if len(used) == len(rows):
                    positions[list_run_id] = scanned[list_run_id]  # all used: past what was read
                elif used:
                    positions[list_run_id] = used[-1]
            rows = conn.execute(
                sa.select(
                    S.c.email,
                    S.c.recipient_id,
                    S.c.attr_values,
                    LR.c.platform_list_id,
                    LR.c.attribute_names,
                )
                .select_from(S.join(LR, LR.c.list_run_id == S.c.list_run_id))
                .where(S.c.list_run_id.in_(list_run_ids), S.c.email.in_(emails))
            ).all()
        # address, then entity, then label: the merge needs one address's rows adjacent
        yield _records(sorted(rows, key=lambda r: (r.email, r.recipient_id, r.platform_list_id)))


def _candidates(
    conn: sa.Connection, list_run_id: int, after_seq: int, everyone: bool, size: int
) -> tuple[list[tuple[int, str]], int]:
    """(seq, address) of the next (up to) ``size`` rows of one snapshot after ``after_seq`` that
    the import carries, and the last ``seq`` read. Reads windows of ``size`` seq values."""
    found: list[tuple[int, str]] = []
    recorded = (~_not_recorded()).label("recorded")
    while len(found) < size:
        window = conn.execute(
            sa.select(S.c.seq, S.c.email, sa.false().label("recorded") if everyone else recorded)
            .select_from(S.join(LR, LR.c.list_run_id == S.c.list_run_id))
            .where(S.c.list_run_id == list_run_id, S.c.seq > after_seq, S.c.seq <= after_seq + size)
            .order_by(S.c.seq)
        ).all()
        if not window:
            break  # past the snapshot's end
        found += [(seq, email) for seq, email, is_recorded in window if not is_recorded]
        after_seq = window[-1].seq
    return found[:size], (found[size - 1][0] if len(found) > size else after_seq)


def _not_recorded() -> sa.ColumnElement[bool]:
    """The snapshot row's entity is not recorded as carrying its list's label."""
    return ~sa.exists().where(M.c.label_name == LR.c.platform_list_id, M.c.member_id == S.c.recipient_id)


def count_records(conn: sa.Connection, list_run_ids: Sequence[int], *, everyone: bool = False) -> int:
    """How many records ``import_pages`` would give (addresses): what a dry run reports."""
    query = (
        sa.select(S.c.email)
        .select_from(S.join(LR, LR.c.list_run_id == S.c.list_run_id))
        .where(S.c.list_run_id.in_(list_run_ids))
    )
    if not everyone:
        query = query.where(_not_recorded())
    addresses = query.group_by(S.c.email).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(addresses)).scalar_one())


def _records(rows: Sequence[sa.Row]) -> list[ImportRecord]:
    """Merge adjacent rows of one address (``rows`` are in address order) into one record."""
    records: list[ImportRecord] = []
    current: str | None = None
    members: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    custom: dict[str, str] = {}
    for row in [*rows, None]:
        if row is None or row.email != current:
            if current is not None:
                labels = tuple(sorted({label for label, _ in members}))
                records.append(ImportRecord(current, labels, tuple(members), fields, custom))
            if row is None:
                break
            current, members, fields, custom = row.email, [], {}, {}
        if (row.platform_list_id, row.recipient_id) not in members:
            members.append((row.platform_list_id, row.recipient_id))
        names = list(row.attribute_names)
        # the extraction puts the refill's technical values first; the configured attributes are last
        values = list(row.attr_values)[-len(names) :] if names else []
        for name, value in zip(names, values, strict=True):
            if value in (None, "") or name in TECHNICAL_ATTRIBUTES:
                continue
            # the first entity (smallest id) with a value fills a field: deterministic across re-reads
            (fields if name in CONTACT_FIELDS else custom).setdefault(name, str(value))
    return records
