-- Lines of this file whose every newly stored unsubscribe re-delivers one another file already stored
-- for the same CRM entity (same time and mailing): see redelivered_bounces.sql (also for why this is
-- one join, not a lookup per row). Known, not applied.
WITH new AS (
    SELECT unsubscribe_id, line_no, entity_id, occurred_at, mailing_id
    FROM feedback_unsubscribe
    WHERE file_id = :file_id AND unsubscribe_id > :id_before AND entity_id IS NOT NULL
),
redelivered AS (
    SELECT DISTINCT n.unsubscribe_id
    FROM new n
    JOIN feedback_unsubscribe e ON e.entity_id = n.entity_id AND e.occurred_at = n.occurred_at
    WHERE e.file_id <> :file_id
      AND (e.mailing_id = n.mailing_id OR (e.mailing_id IS NULL AND n.mailing_id IS NULL))
)
SELECT count(*) FROM (
    SELECT n.line_no
    FROM new n
    LEFT JOIN redelivered r ON r.unsubscribe_id = n.unsubscribe_id
    GROUP BY n.line_no
    HAVING count(r.unsubscribe_id) = count(*)
) lines
