"""Read a frozen snapshot back for the refill as column batches, cheaply.

The refill's reader runs in the thread that also feeds and records the uploads, so its cost per
row is on the critical path. Compared with ``extract.iter_snapshot`` (which makes a
``Recipient`` per row and lets the driver or SQLAlchemy decode each row's JSON on its own), a page
here is one keyset query on the primary key returning ``attr_values`` as *text*, and three plain
columns wrapped in a ``RecipientBatch``: no Python object per recipient. The attribute values are
usually passed on still joined, cut out of the JSON text with a few ``str.replace`` calls
(``_joined_values`` says when that is exact); otherwise the page's JSON is decoded in one call.

Same guarantees as ``iter_snapshot``: each page is one statement (give it a connection in
AUTOCOMMIT mode: nothing is held open between pages, however long the refill takes), pages follow
the dense seqs, and a gap raises ``SnapshotGapError``.

A page is bounded on both sides, ``first_seq <= seq < first_seq + page_size``, not just by
``LIMIT``: a fresh snapshot has no planner statistics yet (the refill follows the extraction
within seconds), and PostgreSQL then estimates ~150 rows for ``seq >= first_seq`` and plans a
bitmap scan of *every* remaining row of the list plus a top-N sort -- each page cost grew with
the rows after it (170 ms at the start of a 300k list), a quadratic read that capped big lists'
uploads at ~10k recipients/s. With the upper bound any plan touches at most one page of rows.
Because a page can no longer look past its range, the end of the snapshot (a short or empty
page) is confirmed by one cheap probe that no row lies beyond it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from itertools import repeat

from sqlalchemy import Connection, Select, Text, bindparam, cast, func, select

from include.crm_sync.extract.snapshot_reader import SnapshotGapError
from include.crm_sync.platforms.recipient_batch import MEMBER_SEP, ROW_SEP, RecipientBatch
from include.crm_sync.staging.tables import list_snapshot

_PAGE = (
    select(
        list_snapshot.c.seq,
        list_snapshot.c.recipient_id,
        list_snapshot.c.email,
        cast(list_snapshot.c.attr_values, Text).label("attr_values"),
    )
    .where(
        list_snapshot.c.list_run_id == bindparam("list_run_id"),
        list_snapshot.c.seq >= bindparam("first_seq"),
        list_snapshot.c.seq < bindparam("end_seq"),  # see the module docstring: bounds every plan
    )
    .order_by(list_snapshot.c.seq)
    .limit(bindparam("page_size"))
)

#: is there any row at or after ``first_seq``? (asked once, after the last page)
_BEYOND = (
    select(list_snapshot.c.seq)
    .where(
        list_snapshot.c.list_run_id == bindparam("list_run_id"), list_snapshot.c.seq >= bindparam("first_seq")
    )
    .limit(1)
)


def _text(value: object) -> str:
    """What the old reader sent for a non-string JSON value: ``""`` for null, else ``str``."""
    return "" if value is None else str(value)


#: numbers are kept as the text of the number (the hooks run only when a number occurs)
_DECODER = json.JSONDecoder(parse_int=lambda s: str(int(s)), parse_float=lambda s: str(float(s)))


def _decode_rows(texts: list[str]) -> list[list[str]]:
    """Every row's JSON array, decoded in one call; non-string members become strings."""
    document = "[" + ",".join(texts) + "]"
    rows = _DECODER.decode(document)
    # The extraction writes strings only (COALESCE(col, '')); these words may also just be inside one.
    if "true" in document or "false" in document:
        return [[v if isinstance(v, str) else _text(v) for v in row] for row in rows]
    if "null" in document:
        return [[_text(v) for v in row] if None in row else row for row in rows]
    return rows


def _joined_values(texts: Sequence[str], width: int) -> str | None:
    """The rows' values joined with ``MEMBER_SEP`` (``ROW_SEP`` between rows) straight from their
    JSON text, or ``None`` when that is not certain to be exact.

    Exact when the page holds no backslash: then no string has a JSON escape, no string contains
    a quote, and every quote is a string delimiter -- ``["a", "b"]`` (PostgreSQL's
    ``json_build_array``) or ``["a","b"]`` (SQLite's ``json_array``) is just the values between
    delimiters. Anything else (an escape, a ``null``, other spacing, a row of another width)
    leaves a quote behind or miscounts, and the caller decodes the JSON instead.
    """
    if not texts or width < 1:
        return None
    return _joined_from_texts(ROW_SEP.join(texts), len(texts), width)


def _joined_from_texts(joined: str, count: int, width: int) -> str | None:
    """``_joined_values`` for ``count`` JSON texts already joined with ``ROW_SEP``."""
    if "\\" in joined or MEMBER_SEP in joined or not (joined.startswith('["') and joined.endswith('"]')):
        return None
    joined = (
        joined[2:-2]
        .replace('"]' + ROW_SEP + '["', ROW_SEP)
        .replace('", "', MEMBER_SEP)
        .replace('","', MEMBER_SEP)
    )
    if '"' in joined:
        return None
    rows = joined.split(ROW_SEP)
    if len(rows) != count or set(map(str.count, rows, repeat(MEMBER_SEP))) != {width - 1}:
        return None
    return joined


def _aggregated_page(dialect_name: str) -> Select:
    """One page as one row: its size and each column's values joined with ``ROW_SEP`` in seq order.

    Four strings instead of four values per recipient for the driver to convert. PostgreSQL
    orders inside the aggregate; SQLite (3.40 has no ``ORDER BY`` in aggregates) concatenates in
    the order of the ordered subquery -- the seqs are read alongside, and the caller only uses
    the page when they are exactly the expected consecutive run, so order is proven, not assumed.
    """
    page = _PAGE.subquery()
    separator = bindparam("separator")
    if dialect_name == "postgresql":

        def joined(column):  # noqa: ANN001, ANN202
            return func.string_agg(column, separator).aggregate_order_by(page.c.seq)
    else:

        def joined(column):  # noqa: ANN001, ANN202
            return func.group_concat(column, separator)

    return select(
        func.count(),
        joined(cast(page.c.seq, Text)),
        joined(page.c.recipient_id),
        joined(page.c.email),
        joined(page.c.attr_values),
    )


_AGGREGATED: dict[str, Select] = {}


def _fast_page(
    conn: Connection, params: dict, first_seq: int, width: int
) -> tuple[int, RecipientBatch | None]:
    """(rows in the page, the batch) read as one aggregated row; the batch is ``None`` when the
    page must be read row by row instead (an unexpected seq order or gap, a separator inside a
    value, JSON that needs decoding)."""
    dialect = conn.dialect.name
    statement = _AGGREGATED.get(dialect)
    if statement is None:
        statement = _AGGREGATED[dialect] = _aggregated_page(dialect)
    count, seqs, ids, emails, texts = conn.execute(statement, {**params, "separator": ROW_SEP}).one()
    if not count:
        return 0, None
    if seqs != ROW_SEP.join(map(str, range(first_seq, first_seq + count))):
        return count, None
    ids, emails = ids.split(ROW_SEP), emails.split(ROW_SEP)
    if len(ids) != count or len(emails) != count:
        return count, None
    joined = _joined_from_texts(texts, count, width)
    if joined is None:
        return count, None
    return count, RecipientBatch.from_joined(ids, emails, joined, width)


def snapshot_batches(
    conn: Connection,
    list_run_id: int,
    *,
    start_seq: int = 0,
    batch_size: int = 1000,
    width: int | None = None,
) -> Iterator[RecipientBatch]:
    """Batches of ``batch_size`` recipients of ``list_run_id`` from ``start_seq`` on, in seq order.

    With ``width`` (the list run's number of attributes) a page is first read as one aggregated
    row (``_aggregated_page``) and its values handed on still joined (``_joined_values``): no
    per-recipient work in the driver or here. Any doubt about that page -- and always without
    ``width`` -- and it is read row by row, its JSON decoded.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    next_seq = start_seq
    while True:
        params = {
            "list_run_id": list_run_id,
            "first_seq": next_seq,
            "end_seq": next_seq + batch_size,
            "page_size": batch_size,
        }
        batch = None
        if width:
            count, batch = _fast_page(conn, params, next_seq, width)
            if not count:
                _check_end(conn, list_run_id, next_seq)
                return
        if batch is None:
            batch = _row_page(conn, params, list_run_id, next_seq)
            if batch is None:
                _check_end(conn, list_run_id, next_seq)
                return
        yield batch
        if len(batch) < batch_size:
            _check_end(conn, list_run_id, next_seq + len(batch))
            return
        next_seq += len(batch)


def _check_end(conn: Connection, list_run_id: int, end_seq: int) -> None:
    """The snapshot really ends before ``end_seq``: a row after a missing run of seqs is a gap."""
    beyond = conn.execute(_BEYOND, {"list_run_id": list_run_id, "first_seq": end_seq}).first()
    if beyond is not None:
        raise SnapshotGapError(
            f"snapshot of list run {list_run_id} has a gap near seq {end_seq}: re-extract the list"
        )


def _row_page(conn: Connection, params: dict, list_run_id: int, first_seq: int) -> RecipientBatch | None:
    rows = conn.execute(_PAGE, params).all()
    if not rows:
        return None
    seqs, ids, emails, texts = zip(*rows, strict=True)  # every row has the same 4 columns
    if seqs[0] != first_seq or seqs[-1] != first_seq + len(rows) - 1:
        raise SnapshotGapError(
            f"snapshot of list run {list_run_id} has a gap near seq {first_seq}: re-extract the list"
        )
    return RecipientBatch(ids, emails, _decode_rows(list(texts)))
