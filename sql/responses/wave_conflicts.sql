-- Mailings whose wave id in this file is not the CRM campaign they are mapped to.
SELECT s.mailing_id, m.crm_campaign_id, m.source, count(DISTINCT s.wave_id) AS waves
FROM tmp_response_stage s
JOIN mailing_campaign m ON m.mailing_id = s.mailing_id
WHERE s.wave_id IS NOT NULL AND s.wave_id <> m.crm_campaign_id
GROUP BY s.mailing_id, m.crm_campaign_id, m.source
ORDER BY s.mailing_id
