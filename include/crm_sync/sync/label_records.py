"""The content of a Flexmail contacts import, read from the snapshots of this run's Flexmail lists:
one record per contact, carrying EVERY interest label the contact qualifies for.

By default only contacts with at least one label not yet recorded as theirs
(``flexmail_label_member``, pending or confirmed) are included: an import only ever adds, so
importing the rest would cost requests and change nothing. ``everyone=True`` gives every
qualifying contact (the operator's full CSV). Pages are keyset-paged on the CRM entity id, so
memory stays flat at millions of contacts and a page re-read after a crash yields the same records.
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
    member_id: str
    email: str
    labels: tuple[str, ...]  #: interest label names, sorted
    fields: dict[str, str] = field(default_factory=dict)
    custom_fields: dict[str, str] = field(default_factory=dict)


def import_pages(
    engine: sa.Engine, list_run_ids: Sequence[int], *, everyone: bool = False, page_size: int = 500
) -> Iterator[list[ImportRecord]]:
    """Pages of at most ``page_size`` records, in entity id order."""
    after = ""
    while True:
        with engine.connect() as conn:
            ids = _page_ids(conn, list_run_ids, after, everyone, page_size)
            if not ids:
                return
            rows = conn.execute(
                sa.select(
                    S.c.recipient_id, S.c.email, S.c.attr_values, LR.c.platform_list_id, LR.c.attribute_names
                )
                .select_from(S.join(LR, LR.c.list_run_id == S.c.list_run_id))
                .where(S.c.list_run_id.in_(list_run_ids), S.c.recipient_id.in_(ids))
                .order_by(S.c.recipient_id, LR.c.platform_list_id)
            ).all()
        yield _records(rows)
        after = ids[-1]


def _page_ids(
    conn: sa.Connection, list_run_ids: Sequence[int], after: str, everyone: bool, size: int
) -> list[str]:
    query = (
        sa.select(S.c.recipient_id)
        .select_from(S.join(LR, LR.c.list_run_id == S.c.list_run_id))
        .where(S.c.list_run_id.in_(list_run_ids), S.c.recipient_id > after)
    )
    if not everyone:
        query = query.where(
            ~sa.exists().where(M.c.label_name == LR.c.platform_list_id, M.c.member_id == S.c.recipient_id)
        )
    query = query.group_by(S.c.recipient_id).order_by(S.c.recipient_id).limit(size)
    return list(conn.execute(query).scalars())


def _records(rows: Sequence[sa.Row]) -> list[ImportRecord]:
    records: list[ImportRecord] = []
    current: str | None = None
    email, labels, fields, custom = "", [], {}, {}
    for row in [*rows, None]:
        if row is None or row.recipient_id != current:
            if current is not None:
                records.append(ImportRecord(current, email, tuple(sorted(set(labels))), fields, custom))
            if row is None:
                break
            current, email, labels, fields, custom = row.recipient_id, row.email, [], {}, {}
        labels.append(row.platform_list_id)
        names = list(row.attribute_names)
        # the extraction puts the refill's technical values first; the configured attributes are last
        values = list(row.attr_values)[-len(names) :] if names else []
        for name, value in zip(names, values, strict=True):
            if value in (None, "") or name in TECHNICAL_ATTRIBUTES:
                continue
            (fields if name in CONTACT_FIELDS else custom).setdefault(name, str(value))
    return records
