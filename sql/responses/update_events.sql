-- An event stored before as ignored or unknown that applies now (its mailing got a CRM campaign,
-- its recipient became a CRM entity): it is applied with this file and its status says so. An
-- applied event never goes back to ignored.
UPDATE response_event
SET status = f.status, crm_entity_id = f.crm_entity_id, updated_at = :now
FROM tmp_response_first f
WHERE response_event.event_key = f.event_key
  AND f.status = 'applied'
  AND response_event.status <> 'applied'
