-- Bench churn (bench/scenarios/membership.py): revoke the list's consent of every :every-th member
-- of the synced snapshot :list_run_id (by upload order), as if they had withdrawn it in the CRM.
UPDATE crm_consent
SET status = 'revoked', revoked_at = :now, source = 'bench churn', updated_at = :now
FROM list_snapshot s
WHERE s.list_run_id = :list_run_id
  AND s.seq % :every = 0
  AND crm_consent.entity_id = s.recipient_id
  AND crm_consent.consent_id = :consent_id
  AND crm_consent.status = 'granted'
