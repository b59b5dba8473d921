"""The content of a Flexmail contacts import, read from the snapshots of this run's Flexmail lists:
one record per ADDRESS, carrying EVERY interest label any CRM entity with that address qualifies
for.

Flexmail keys contacts by address, and within one import the last record of an address wins: two
entities sharing an address in different lists (each snapshot keeps one entity per address, but
not necessarily the same one) must become one record with the union of their labels, or one
entity's labels would be lost. Rows are therefore read in normalised-address order (the snapshot's
``email`` column is the normalised address, with a unique index per list run) and adjacent rows of
one address merged; each record keeps the (label, entity) pairs it stands for, which the label
store records.

By default only addresses with at least one (label, entity) pair not yet recorded as carried
(``flexmail_label_member``, pending or confirmed) are included: an import only ever adds, so
importing the rest would cost requests and change nothing. ``everyone=True`` gives every
qualifying address (the operator's full CSV). Pages are keyset-paged on the address, so memory
stays flat at millions of contacts and a page re-read after a crash yields the same records.
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
    """Pages of at most ``page_size`` records, in address order."""
    after = ""
    while True:
        with engine.connect() as conn:
            emails = _page_emails(conn, list_run_ids, after, everyone, page_size)
            if not emails:
                return
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
                .order_by(S.c.email, S.c.recipient_id, LR.c.platform_list_id)
            ).all()
        yield _records(rows)
        after = emails[-1]


def count_records(conn: sa.Connection, list_run_ids: Sequence[int], *, everyone: bool = False) -> int:
    """How many records ``import_pages`` would give (addresses): what a dry run reports."""
    addresses = _addresses(list_run_ids, everyone).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(addresses)).scalar_one())


def _addresses(list_run_ids: Sequence[int], everyone: bool) -> sa.Select:
    """The addresses of the import, each once, unordered."""
    query = (
        sa.select(S.c.email)
        .select_from(S.join(LR, LR.c.list_run_id == S.c.list_run_id))
        .where(S.c.list_run_id.in_(list_run_ids))
    )
    if not everyone:
        query = query.where(
            ~sa.exists().where(M.c.label_name == LR.c.platform_list_id, M.c.member_id == S.c.recipient_id)
        )
    return query.group_by(S.c.email)


def _page_emails(
    conn: sa.Connection, list_run_ids: Sequence[int], after: str, everyone: bool, size: int
) -> list[str]:
    query = _addresses(list_run_ids, everyone).where(S.c.email > after).order_by(S.c.email).limit(size)
    return list(conn.execute(query).scalars())


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
