-- Every line (first or duplicate) of an event of a recipient the CRM does not know: the fail-safe
-- holds the person an unusable id of such a line names (apply.py).
SELECT s.line_no
FROM tmp_response_stage s
WHERE s.event_key IN (SELECT f.event_key FROM tmp_response_first f WHERE f.status = 'unknown_recipient')
