-- Number of selected entities per exclusion reason (NULL = eligible, before de-duplication).
-- Slot ${classified}: extract_classify.sql, rendered for the list.
SELECT c.reason, COUNT(*) AS n
FROM (${classified}) AS c
GROUP BY c.reason
