-- The foreign keys declared on the given tables, with their complete definitions.
-- The generator's bulk load drops them, COPYs, and adds the very same constraints back before
-- committing (pg_restore's technique): one validating join instead of a trigger call per row.
-- Bind parameter "tables": an array of table names.
SELECT c.conrelid::regclass::text AS table_name,
       c.conname AS constraint_name,
       pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
WHERE c.contype = 'f'
  AND c.conrelid = ANY (CAST(:tables AS regclass[]))
ORDER BY c.conrelid::regclass::text, c.conname
