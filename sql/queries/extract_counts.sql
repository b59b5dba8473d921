-- Number of selected entities per exclusion reason (NULL = eligible, before de-duplication).
SELECT c.reason, COUNT(*) AS n
FROM crm_sync_classified AS c
GROUP BY c.reason
