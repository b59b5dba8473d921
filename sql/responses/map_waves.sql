-- Closed loop: a mailing sent for a CRM campaign carries the campaign's wave id in the response
-- file. Mailings not mapped yet get that mapping (source closed_loop); an existing mapping (from
-- config or an earlier file) is never changed here. Several wave ids for one mailing in one file:
-- the smallest wins (wave_conflicts.sql reports them).
INSERT INTO mailing_campaign (mailing_id, crm_campaign_id, source, updated_at)
SELECT s.mailing_id, min(s.wave_id), 'closed_loop', :now
FROM tmp_response_stage s
WHERE s.wave_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM mailing_campaign m WHERE m.mailing_id = s.mailing_id)
GROUP BY s.mailing_id
