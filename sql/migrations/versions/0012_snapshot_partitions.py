"""list_snapshot partitioned by list run on PostgreSQL: each extraction loads its own table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Written out by hand and frozen like 0001 (no imports from include/). Writing a snapshot into one
shared table maintained three unique indexes and ran the foreign-key trigger row by row: at 1M
contacts that was two thirds of an extraction. On PostgreSQL ``list_snapshot`` becomes a table
partitioned by ``LIST (list_run_id)``; the extraction fills a new, bare table of its own, builds
its keys in one sort each, then attaches it as the list run's partition (the foreign key is checked
once for the whole table there). Readers still query ``list_snapshot`` (partition pruning).

``list_snapshot_default`` (the DEFAULT partition) takes rows written to ``list_snapshot`` for a list
run without a partition of its own (tools and tests that insert rows directly); the extraction never
writes there. Existing snapshots are moved into one partition per list run. SQLite: no change.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COLUMNS = """
    list_run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    recipient_id VARCHAR(64) NOT NULL,
    email VARCHAR(320) NOT NULL,
    attr_values JSON NOT NULL,
    CONSTRAINT pk_list_snapshot PRIMARY KEY (list_run_id, seq),
    CONSTRAINT uq_list_snapshot_list_run_id_recipient_id UNIQUE (list_run_id, recipient_id),
    CONSTRAINT uq_list_snapshot_list_run_id_email UNIQUE (list_run_id, email),
    CONSTRAINT fk_list_snapshot_list_run_id_list_run FOREIGN KEY (list_run_id)
        REFERENCES list_run (list_run_id)
"""
_COMMENTS = (
    "COMMENT ON COLUMN list_snapshot.seq IS 'upload order, 0-based'",
    "COMMENT ON COLUMN list_snapshot.email IS 'normalised address as uploaded'",
    "COMMENT ON COLUMN list_snapshot.attr_values IS 'ordered like list_run.attribute_names'",
)
_COPY_ROWS = (
    "INSERT INTO list_snapshot SELECT list_run_id, seq, recipient_id, email, attr_values "
    "FROM list_snapshot_old"
)
_CONSTRAINTS = (
    "pk_list_snapshot",
    "uq_list_snapshot_list_run_id_recipient_id",
    "uq_list_snapshot_list_run_id_email",
    "fk_list_snapshot_list_run_id_list_run",
)


def _set_aside_old_table() -> None:
    """Rename the current table and its constraints (their index names must be free again)."""
    op.execute("ALTER TABLE list_snapshot RENAME TO list_snapshot_old")
    for name in _CONSTRAINTS:
        op.execute(f"ALTER TABLE list_snapshot_old RENAME CONSTRAINT {name} TO {name}_old")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside_old_table()
    op.execute(f"CREATE TABLE list_snapshot ({_COLUMNS}) PARTITION BY LIST (list_run_id)")
    for statement in _COMMENTS:
        op.execute(statement)
    op.execute("CREATE TABLE list_snapshot_default PARTITION OF list_snapshot DEFAULT")
    # One partition per list run that has rows, named as the extraction names them
    # (include/crm_sync/extract/partitions.py), then the rows, routed by the parent.
    op.execute(
        """
        DO $$
        DECLARE run_id INTEGER;
        BEGIN
            FOR run_id IN SELECT DISTINCT list_run_id FROM list_snapshot_old LOOP
                EXECUTE format(
                    'CREATE TABLE list_snapshot_run_%s PARTITION OF list_snapshot FOR VALUES IN (%s)',
                    run_id, run_id);
            END LOOP;
        END $$
        """
    )
    op.execute(_COPY_ROWS)
    op.execute("DROP TABLE list_snapshot_old")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside_old_table()
    op.execute(f"CREATE TABLE list_snapshot ({_COLUMNS})")
    for statement in _COMMENTS:
        op.execute(statement)
    op.execute(_COPY_ROWS)
    op.execute("DROP TABLE list_snapshot_old")  # the partitions go with it
