-- PostgreSQL: the bare table one list run's snapshot is written into (extract_insert.sql), with
-- list_snapshot's columns but none of its keys yet: no index to maintain and no foreign-key
-- trigger to fire per row while millions of rows go in (extract_attach.sql adds them after).
--
-- Slot (SQL from this repository, never data): ${table}  list_snapshot_run_<list_run_id>
CREATE TABLE ${table} (LIKE list_snapshot INCLUDING DEFAULTS)
