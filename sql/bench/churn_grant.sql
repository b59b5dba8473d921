-- Bench churn: grant consent :consent_id to :grants people of the list's selection (contacts and
-- leads of language :language with an address, not bounced) who never had it: new members.
INSERT INTO crm_consent (entity_id, consent_id, status, granted_at, source, updated_at)
SELECT e.entity_id, :consent_id, 'granted', :now, 'bench churn', :now
FROM crm_entity e
WHERE e.entity_type IN ('contact', 'lead')
  AND e.language = :language
  AND e.email_normalized IS NOT NULL
  AND NOT e.is_bounced
  AND NOT EXISTS (
      SELECT 1 FROM crm_consent c WHERE c.entity_id = e.entity_id AND c.consent_id = :consent_id
  )
ORDER BY e.entity_id
LIMIT :grants
