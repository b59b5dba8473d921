-- The explicitly created indexes of the given tables with their CREATE statements (indexes that
-- back a primary key or UNIQUE constraint have no sql and stay). The generator's bulk load drops
-- them and builds them again after the inserts, in the same transaction: a sorted build is far
-- cheaper than a million scattered insertions. Bind parameter "tables": an expanding list of names.
SELECT name AS index_name, sql AS definition
FROM sqlite_master
WHERE type = 'index'
  AND sql IS NOT NULL
  AND tbl_name IN :tables
ORDER BY name
