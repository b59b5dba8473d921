-- Unsubscribe: revoke the consent of the list it came from where the caller mapped that list, else
-- every marketing consent the entity has; revoked_at = the earliest such unsubscribe of this file.
-- A consent already revoked keeps its date and source (applying again changes nothing).
UPDATE crm_consent
SET status = 'revoked', revoked_at = revocations.occurred_at, source = :source, updated_at = :now
FROM (
    SELECT entity_id, consent_id, min(occurred_at) AS occurred_at
    FROM (
        SELECT m.entity_id, m.consent_id, m.occurred_at
        FROM tmp_feedback_match m
        WHERE m.entity_id IS NOT NULL AND m.consent_id IS NOT NULL
        UNION ALL
        SELECT m.entity_id, c.consent_id, m.occurred_at
        FROM tmp_feedback_match m
        JOIN crm_consent c ON c.entity_id = m.entity_id
        JOIN crm_consent_type t ON t.consent_id = c.consent_id
        WHERE m.entity_id IS NOT NULL AND m.consent_id IS NULL AND t.is_marketing
    ) each_consent
    GROUP BY entity_id, consent_id
) revocations
WHERE crm_consent.entity_id = revocations.entity_id
  AND crm_consent.consent_id = revocations.consent_id
  AND crm_consent.status <> 'revoked'
