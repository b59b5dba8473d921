-- Every line (first or duplicate) of an event that matched no CRM entity.
INSERT INTO rejected_row (file_id, line_no, field, reason, raw)
SELECT :file_id, s.line_no,
       CASE WHEN s.recipient_id IS NULL THEN 'email' ELSE 'recipient_id' END,
       'unknown recipient',
       'recipient_id=' || coalesce(s.recipient_id, '') || ' email=' || coalesce(s.email_normalized, '')
FROM tmp_feedback_stage s
WHERE s.event_key IN (SELECT event_key FROM tmp_feedback_match WHERE entity_id IS NULL)
