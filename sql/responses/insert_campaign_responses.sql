-- Opens and clicks of mailings that map to a CRM campaign, of known CRM entities, kept once.
INSERT INTO crm_campaign_response (
    event_key, crm_campaign_id, entity_id, response_type, mailing_id, occurred_at, link_url, file_id,
    created_at
)
SELECT f.event_key, f.crm_campaign_id, f.crm_entity_id, f.event_type, f.mailing_id, f.occurred_at,
       f.link_url, :file_id, :now
FROM tmp_response_first f
WHERE f.status = 'applied'
  AND f.event_type IN ('open', 'click')
  AND NOT EXISTS (SELECT 1 FROM crm_campaign_response c WHERE c.event_key = f.event_key)
ORDER BY f.event_key
