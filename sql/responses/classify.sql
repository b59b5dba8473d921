-- One row per distinct event of the file (its first line; later lines with the same event_key are
-- duplicates), with the CRM entity it belongs to (entity id = the platform's entity id, else its
-- recipient id: what the CRM uploaded), the CRM campaign its mailing maps to, and what becomes of
-- it: autoresponders and opens/clicks of unmapped mailings are ignored (and counted), events of
-- recipients the CRM does not know are rejected, everything else is applied.
INSERT INTO tmp_response_first (
    line_no, event_key, recipient_id, entity_type, entity_id, crm_entity_id, list_id, mailing_id,
    crm_campaign_id, event_type, occurred_at, link_url, status
)
SELECT s.line_no, s.event_key, s.recipient_id, s.entity_type, s.entity_id, e.entity_id, s.list_id,
       s.mailing_id, m.crm_campaign_id, s.event_type, s.occurred_at, s.link_url,
       CASE
           WHEN s.event_type = 'autoresponder' THEN 'ignored_autoresponder'
           WHEN s.event_type IN ('open', 'click') AND m.crm_campaign_id IS NULL THEN 'ignored_no_campaign'
           WHEN e.entity_id IS NULL THEN 'unknown_recipient'
           ELSE 'applied'
       END
FROM (SELECT min(line_no) AS line_no FROM tmp_response_stage GROUP BY event_key) firsts
JOIN tmp_response_stage s ON s.line_no = firsts.line_no
LEFT JOIN crm_entity e ON e.entity_id = s.crm_key
LEFT JOIN mailing_campaign m ON m.mailing_id = s.mailing_id
