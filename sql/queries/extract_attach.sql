-- PostgreSQL: make a freshly loaded run table (extract_run_table.sql) the list run's partition of
-- list_snapshot. Each key is built in one sort over the loaded rows instead of row by row; the
-- ATTACH then adopts them as the partitioned table's keys (same columns: they match) and checks
-- the foreign key to list_run with one query for the whole table, not a trigger per row.
-- The CHECK lets the ATTACH skip its scan for the partition bound (it is implied).
--
-- Slots (SQL from this repository, never data): ${table}  list_snapshot_run_<list_run_id>;
-- ${list_run_id}  the list run's id, an integer.
ALTER TABLE ${table}
    ADD CONSTRAINT pk_${table} PRIMARY KEY (list_run_id, seq),
    ADD CONSTRAINT uq_${table}_recipient_id UNIQUE (list_run_id, recipient_id),
    ADD CONSTRAINT uq_${table}_email UNIQUE (list_run_id, email),
    ADD CONSTRAINT ck_${table}_run CHECK (list_run_id = ${list_run_id});
ALTER TABLE list_snapshot ATTACH PARTITION ${table} FOR VALUES IN (${list_run_id})
