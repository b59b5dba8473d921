-- Evaluate extract_classify.sql once into a temporary table of this transaction: the reason
-- counts and the snapshot insert then read the same rows (they add up by construction) and the
-- classification -- the joins with consents, feedback and blocklist, the regex -- runs only once.
-- Temporary tables are private to the connection and cost no WAL on PostgreSQL.
--
-- Slot ${classified}: extract_classify.sql rendered for the list.
CREATE TEMPORARY TABLE crm_sync_classified AS
${classified}
