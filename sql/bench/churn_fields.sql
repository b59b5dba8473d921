-- Bench churn: change an uploaded field (last_name) of every :every-th member of the synced
-- snapshot :list_run_id, starting at :offset: their contacts must be upserted again.
UPDATE crm_entity
SET last_name = left('Churned ' || coalesce(last_name, ''), 200), updated_at = :now
FROM list_snapshot s
WHERE s.list_run_id = :list_run_id
  AND s.seq % :every = :offset
  AND crm_entity.entity_id = s.recipient_id
