-- Write the frozen snapshot of one list run: the eligible rows of crm_sync_classified
-- (extract_stage.sql), one per normalised address, numbered 0..n-1 in address order (the upload
-- order). Address order, not id order, because the de-duplication already sorts by address: the
-- numbering reuses that sort instead of sorting millions of rows a second time, and the rows then
-- arrive at the (list_run_id, email) unique index in key order.
--
-- Which entity keeps a shared address is deterministic: contact before lead before account (a
-- contact is the person, a lead may still turn into one, an account address is often shared),
-- then the smallest entity_id. Comparisons use a byte-wise collation on both dialects
-- (PostgreSQL's default collation depends on the server's locale, and is slower), so the choice
-- and the order are the same everywhere.
--
-- Slots (SQL from this repository, never data):
--   ${target}        list_snapshot (SQLite), or on PostgreSQL the list run's bare table, attached
--                    as its partition afterwards (extract_run_table.sql, extract_attach.sql)
--   ${collate}       the byte-wise collation clause of the dialect
--   ${attr_values}   the dialect's JSON array of the list's attribute values, in
--                    list_run.attribute_names order (technical fields first)
-- Binds: :sys_list_run_id, :sys_optin_process_id, :sys_description,
-- :sys_media_type (the constant technical fields).
INSERT INTO ${target} (list_run_id, seq, recipient_id, email, attr_values)
SELECT
    :sys_list_run_id,
    ROW_NUMBER() OVER (ORDER BY k.email ${collate}) - 1,
    k.entity_id,
    k.email,
    ${attr_values}
FROM (
    SELECT
        c.*,
        ROW_NUMBER() OVER (
            PARTITION BY c.email ${collate}
            ORDER BY CASE c.entity_type WHEN 'contact' THEN 0 WHEN 'lead' THEN 1 WHEN 'account' THEN 2 ELSE 3 END,
                     c.entity_id ${collate}
        ) AS address_rank
    FROM crm_sync_classified AS c
    WHERE c.reason IS NULL
) AS k
WHERE k.address_rank = 1
