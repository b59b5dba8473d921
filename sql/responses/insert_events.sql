-- Store the events not stored yet (an event may have come in another file before). In key order:
-- the unique index on event_key is then filled in order, not at random places.
INSERT INTO response_event (
    event_key, file_id, line_no, recipient_id, entity_type, entity_id, crm_entity_id,
    platform_list_id, mailing_id, event_type, occurred_at, link_url, status, received_at, updated_at
)
SELECT f.event_key, :file_id, f.line_no, f.recipient_id, f.entity_type, f.entity_id, f.crm_entity_id,
       f.list_id, f.mailing_id, f.event_type, f.occurred_at, f.link_url, f.status, :now, :now
FROM tmp_response_first f
WHERE NOT EXISTS (SELECT 1 FROM response_event r WHERE r.event_key = f.event_key)
ORDER BY f.event_key
