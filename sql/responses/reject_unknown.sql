-- Events of recipients the CRM does not know: rejected with their (first) line.
INSERT INTO rejected_row (file_id, line_no, field, reason, raw)
SELECT :file_id, f.line_no, CASE WHEN f.entity_id IS NULL THEN 'recipient_id' ELSE 'entity_id' END,
       'unknown recipient',
       'recipient_id=' || f.recipient_id || ' entity_id=' || coalesce(f.entity_id, '')
           || ' event_type=' || f.event_type
FROM tmp_response_first f
WHERE f.status = 'unknown_recipient'
