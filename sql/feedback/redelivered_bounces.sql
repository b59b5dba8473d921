-- Lines of this file whose every newly stored bounce re-delivers one another file already stored for
-- the same CRM entity (same category, time and mailing): the platform sends the same event in its
-- response files and in the next night's export, under other event keys. Their effect is already in
-- the CRM, so they count as known, not applied.
-- Speed: one join of the new rows with the stored ones (a hash join on PostgreSQL, an automatic
-- index on SQLite), never a lookup per new row: feedback_bounce has no index on entity_id, and a
-- correlated EXISTS per row scanned the whole table once per row (O(N^2): minutes at 50k rows).
WITH new AS (
    SELECT bounce_id, line_no, entity_id, category, occurred_at, mailing_id
    FROM feedback_bounce
    WHERE file_id = :file_id AND bounce_id > :id_before AND entity_id IS NOT NULL
),
redelivered AS (
    SELECT DISTINCT n.bounce_id
    FROM new n
    JOIN feedback_bounce e
      ON e.entity_id = n.entity_id AND e.category = n.category AND e.occurred_at = n.occurred_at
    WHERE e.file_id <> :file_id
      AND (e.mailing_id = n.mailing_id OR (e.mailing_id IS NULL AND n.mailing_id IS NULL))
)
SELECT count(*) FROM (
    SELECT n.line_no
    FROM new n
    LEFT JOIN redelivered r ON r.bounce_id = n.bounce_id
    GROUP BY n.line_no
    HAVING count(r.bounce_id) = count(*)
) lines
