-- The benchmark's nightly churn of the Flexmail lists' consents (bench/scenarios/flexmail.py), run
-- on a COPY of a generated CRM between night 1 and night 2: a fixed share of the consent rows of
-- the given consents changes status, as a day of the CRM would -- granted ones revoked (people
-- withdrawing: the label must go), revoked ones granted again (the label comes back). Which rows
-- is deterministic (a hash of entity id, consent id and :seed), so two runs churn the same people
-- and the figures compare. PostgreSQL only (the benchmark's database).
--
-- Binds: :consent_ids (array of consent ids), :per_million (share of rows, in millionths: 20000
-- = 2 %), :seed (text), :changed_at (timestamp of the change).
UPDATE crm_consent
SET status = CASE status WHEN 'granted' THEN 'revoked' ELSE 'granted' END,
    revoked_at = CASE status WHEN 'granted' THEN :changed_at ELSE NULL END,
    granted_at = CASE status WHEN 'granted' THEN granted_at ELSE :changed_at END,
    source = 'bench churn',
    updated_at = :changed_at
WHERE consent_id = ANY(:consent_ids)
  AND mod(abs(hashtext(entity_id || '/' || consent_id || '/' || :seed)), 1000000) < :per_million
