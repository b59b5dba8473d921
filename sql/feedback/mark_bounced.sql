-- Hard bounce / overflow: mark the entity bounced with its earliest such event of this file (ties:
-- category, line). First bounce wins: an entity already marked keeps its date and category, so
-- applying again changes nothing. Every valid matched event counts, stored before or not: an
-- entity whose flag was reset by mistake is marked again. Soft bounces are only stored.
UPDATE crm_entity
SET is_bounced = TRUE, bounced_at = firsts.occurred_at, bounce_category = firsts.category, updated_at = :now
FROM (
    SELECT entity_id, occurred_at, category,
           row_number() OVER (PARTITION BY entity_id ORDER BY occurred_at, category, line_no) AS rn
    FROM tmp_feedback_match
    WHERE entity_id IS NOT NULL AND marks_bounced = 1
) firsts
WHERE firsts.rn = 1
  AND crm_entity.entity_id = firsts.entity_id
  AND NOT crm_entity.is_bounced
