-- Every line (first or duplicate) of an event that matched no CRM entity: the fail-safe holds the
-- person an unusable value of such a line names (apply.py).
SELECT s.line_no
FROM tmp_feedback_stage s
WHERE s.event_key IN (SELECT event_key FROM tmp_feedback_match WHERE entity_id IS NULL)
