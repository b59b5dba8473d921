-- Store events not stored yet (an overlapping window re-delivers events already stored), in key
-- order: the unique index on event_key then fills page after page instead of at random.
INSERT INTO feedback_bounce (
    event_key, file_id, line_no, recipient_id, email_normalized, entity_id, category,
    platform_list_id, mailing_id, occurred_at, received_at
)
SELECT m.row_key, :file_id, m.line_no, m.recipient_id, m.email_normalized, m.entity_id, m.category,
       m.list_id, m.mailing_id, m.occurred_at, :received_at
FROM tmp_feedback_match m
WHERE NOT EXISTS (SELECT 1 FROM feedback_bounce f WHERE f.event_key = m.row_key)
ORDER BY m.row_key
