-- Lines of this file whose every newly stored unsubscribe re-delivers one another file already stored
-- for the same CRM entity (same time and mailing): see redelivered_bounces.sql. Known, not applied.
SELECT count(*) FROM (
    SELECT n.line_no
    FROM feedback_unsubscribe n
    WHERE n.file_id = :file_id AND n.unsubscribe_id > :id_before AND n.entity_id IS NOT NULL
    GROUP BY n.line_no
    HAVING min(CASE WHEN EXISTS (
        SELECT 1 FROM feedback_unsubscribe e
        WHERE e.entity_id = n.entity_id AND e.file_id <> :file_id
          AND e.occurred_at = n.occurred_at
          AND (e.mailing_id = n.mailing_id OR (e.mailing_id IS NULL AND n.mailing_id IS NULL))
    ) THEN 1 ELSE 0 END) = 1
) redelivered
