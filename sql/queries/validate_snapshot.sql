-- The rows great-expectations validates: one list run's snapshot, with the attributes the
-- expectations look at pulled out of the attribute JSON. Run by GX as a query asset against the
-- staging database, so the snapshot never leaves it.
--
-- Slots, filled by include/crm_sync/validate/gx_runner.py (integers and repository SQL only):
--   ${list_run_id}     the list run
--   ${entity_id_attr}  the dialect's expression for the entity-id element of attr_values
--   ${optin_attr}      the dialect's expression for the opt-in-id element of attr_values
SELECT
    s.seq,
    s.recipient_id,
    s.email,
    ${entity_id_attr} AS entity_id_attr,
    ${optin_attr} AS optin_attr,
    json_array_length(s.attr_values) AS attr_count
FROM list_snapshot AS s
WHERE s.list_run_id = ${list_run_id}
