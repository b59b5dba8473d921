-- The rows great-expectations validates: one list run's snapshot, with the attributes the
-- expectations look at pulled out of the attribute JSON. Run by GX as a query asset against the
-- staging database, so the snapshot never leaves it.
--
-- GX wraps this query as a subquery of each of its own queries. Inlined, the JSON expressions
-- would be evaluated once per *reference* (GX's bundled aggregate names optin_attr and
-- attr_count twice each); the dialect's ${fence} (PostgreSQL: OFFSET 0) keeps the query a plan
-- node of its own, which computes each needed column once per row -- unused ones are still
-- dropped. Measured on a 329k-row snapshot, all of GX's queries: 4.0 s -> 3.3 s (mean of 4).
--
-- Slots, filled by include/crm_sync/validate/snapshot_validation.py (integers and repository SQL only):
--   ${list_run_id}     the list run
--   ${entity_id_attr}  the dialect's expression for the entity-id element of attr_values
--   ${optin_attr}      the dialect's expression for the opt-in-id element of attr_values
--   ${fence}           the dialect's optimisation fence, on a line of its own (may be empty)
SELECT
    s.seq,
    s.recipient_id,
    s.email,
    ${entity_id_attr} AS entity_id_attr,
    ${optin_attr} AS optin_attr,
    json_array_length(s.attr_values) AS attr_count
FROM list_snapshot AS s
WHERE s.list_run_id = ${list_run_id}${fence}
