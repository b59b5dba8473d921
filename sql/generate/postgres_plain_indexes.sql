-- The plain (non-unique, non-primary-key) indexes of the given tables with their definitions.
-- The generator's bulk load drops them and builds them again after the COPY, in the same
-- transaction: one sorted build is far cheaper than a million scattered insertions.
-- Bind parameter "tables": an array of table names.
SELECT i.indexrelid::regclass::text AS index_name,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid = ANY (CAST(:tables AS regclass[]))
  AND NOT i.indisprimary
  AND NOT i.indisunique
ORDER BY 1
