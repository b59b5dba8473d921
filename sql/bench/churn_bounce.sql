-- Bench churn: mark every :every-th member of the synced snapshot :list_run_id hard-bounced,
-- starting at :offset (so these are not the members whose consent churn_revoke.sql revoked).
UPDATE crm_entity
SET is_bounced = TRUE, bounced_at = :now, bounce_category = 'hardbounce', updated_at = :now
FROM list_snapshot s
WHERE s.list_run_id = :list_run_id
  AND s.seq % :every = :offset
  AND crm_entity.entity_id = s.recipient_id
  AND NOT crm_entity.is_bounced
