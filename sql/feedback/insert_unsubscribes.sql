-- Store events not stored yet (an overlapping window re-delivers events already stored), in key
-- order: the unique index on event_key then fills page after page instead of at random.
-- consent_id: the consent of the platform list the unsubscribe came from; NULL = every marketing consent.
INSERT INTO feedback_unsubscribe (
    event_key, file_id, line_no, recipient_id, email_normalized, entity_id, platform_list_id,
    consent_id, mailing_id, occurred_at, received_at
)
SELECT m.row_key, :file_id, m.line_no, m.recipient_id, m.email_normalized, m.entity_id, m.list_id,
       m.consent_id, m.mailing_id, m.occurred_at, :received_at
FROM tmp_feedback_match m
WHERE NOT EXISTS (SELECT 1 FROM feedback_unsubscribe f WHERE f.event_key = m.row_key)
ORDER BY m.row_key
