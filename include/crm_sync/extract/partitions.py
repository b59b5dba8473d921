"""PostgreSQL: one partition of ``list_snapshot`` per list run (migration 0012), loaded bare.

An extraction on PostgreSQL writes its rows into a new table of its own
(``sql/queries/extract_run_table.sql``), builds that table's keys after the load and attaches it
as the list run's partition (``extract_attach.sql``): three unique indexes built by one sort each
and one foreign-key check for the whole table, instead of index maintenance and a trigger per row
-- at 1M contacts those were most of the snapshot insert. Readers keep querying ``list_snapshot``.

Forgetting a list run's snapshot drops its partition (``drop_run_partition``): no dead rows left to
vacuum, and partitions do not pile up as snapshots are pruned. SQLite has no partitions: there the
snapshot goes into ``list_snapshot`` itself, as before.
"""

from __future__ import annotations

from sqlalchemy import Connection

#: the dialects whose list_snapshot is partitioned per list run (migration 0012)
PARTITIONED_DIALECTS = frozenset({"postgresql"})


def uses_partitions(dialect_name: str) -> bool:
    """Whether snapshots live in per-run partitions on a database of this dialect."""
    return dialect_name in PARTITIONED_DIALECTS


def run_table(list_run_id: int) -> str:
    """Name of the partition holding list run ``list_run_id``'s snapshot."""
    # int() again: the name is spliced into DDL (identifiers cannot be bound).
    return f"list_snapshot_run_{int(list_run_id)}"


def drop_run_partition(conn: Connection, list_run_id: int) -> None:
    """Drop the list run's partition if it has one (its rows go with it); nothing on SQLite.

    Dropping a partition locks all of ``list_snapshot`` until the transaction ends: call it in a
    short transaction of its own, never inside a long one (readers of other snapshots would wait).
    """
    if uses_partitions(conn.dialect.name):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {run_table(list_run_id)}")


#: the DEFAULT partition (migration 0012): rows inserted for a list run without a partition
DEFAULT_PARTITION = "list_snapshot_default"


def is_partition(table_name: str) -> bool:
    """Whether ``table_name`` is a partition of ``list_snapshot`` (not a table of the metadata)."""
    prefix = run_table(0).removesuffix("0")
    return table_name == DEFAULT_PARTITION or (
        table_name.startswith(prefix) and table_name.removeprefix(prefix).isdigit()
    )


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: a schema comparison skips list_snapshot's partitions (the
    metadata knows the partitioned table only; its partitions come and go with list runs)."""
    return not (type_ == "table" and name is not None and is_partition(name))
