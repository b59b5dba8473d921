-- Classify every entity a list's selection returns, for the snapshot of one list run.
--
-- One row per selected entity (a selection returning an id twice still selects it once), with
-- `reason` NULL when
-- the entity may be sent, else the FIRST exclusion that applies, in this order:
--   no_consent        no row for the list's consent, or a status other than granted / revoked
--   unsubscribed      the consent is revoked, or feedback_unsubscribe holds the entity, its
--                     recipient id or its address for this consent or for all marketing consents
--   entity_bounced    the CRM marks the entity bounced (hard bounce or soft-bounce overflow)
--   address_bounced   feedback_bounce holds a hardbounce/overflow for the normalised address
--   feedback_held     an open crm_feedback_hold names the entity or its address: a bounce or
--                     unsubscribe row naming them could not be applied (fail-safe, until resolved)
--   blocklisted       the address is on crm_blocklist, exactly (in any case) or by a * / ? pattern
--   missing_address   no (normalised) address
--   invalid_address   the address fails the shared rules (validate/email_syntax.py): longer
--                     than :sys_email_max_length, or not matching :sys_email_regex
-- Duplicate addresses are resolved afterwards, among the eligible rows (extract_insert.sql).
-- Each row gets exactly one reason so that selected = kept + sum(excluded by reason).
--
-- An empty address never matches an exclusion set (a feedback row with an empty address must not
-- turn "missing address" into "bounced"); `x <> ''` also excludes NULL.
--
-- Every exclusion set is an uncorrelated IN (SELECT ...): PostgreSQL hashes it once (hashed
-- SubPlan) and SQLite builds a transient index once, instead of probing per row.
--
-- Slots, filled by include/crm_sync/extract/queries.py with SQL from this repository, never data:
--   ${selected}        the list's selection as a predicate on `e` (include/crm_sync/extract/selection.py)
--   ${email_matches}   the dialect's "e.email_normalized is at most :sys_email_max_length long
--                      and matches :sys_email_regex"
--   ${blocklist_pattern_match}  the dialect's "e.email_normalized matches a pattern of crm_blocklist"
-- Binds: :sys_consent_id, :sys_global_unsubscribe (1 when an unsubscribe without consent scope
-- revokes this consent, i.e. it is a marketing consent; else 0), :sys_email_regex,
-- :sys_email_max_length, and the
-- selection's own :params.
SELECT
    e.entity_id,
    e.entity_type,
    e.email_normalized AS email,
    e.first_name,
    e.last_name,
    e.company_name,
    e.language,
    e.city,
    e.country,
    CASE
        WHEN c.status IS NULL OR c.status NOT IN ('granted', 'revoked') THEN 'no_consent'
        WHEN c.status = 'revoked' THEN 'unsubscribed'
        WHEN e.entity_id IN (
                SELECT u.entity_id FROM feedback_unsubscribe AS u
                WHERE u.entity_id IS NOT NULL
                  AND (u.consent_id = :sys_consent_id OR (u.consent_id IS NULL AND :sys_global_unsubscribe = 1)))
          OR e.entity_id IN (
                SELECT u.recipient_id FROM feedback_unsubscribe AS u
                WHERE u.recipient_id IS NOT NULL
                  AND (u.consent_id = :sys_consent_id OR (u.consent_id IS NULL AND :sys_global_unsubscribe = 1)))
          OR e.email_normalized IN (
                SELECT u.email_normalized FROM feedback_unsubscribe AS u
                WHERE u.email_normalized <> ''
                  AND (u.consent_id = :sys_consent_id OR (u.consent_id IS NULL AND :sys_global_unsubscribe = 1)))
            THEN 'unsubscribed'
        WHEN e.is_bounced THEN 'entity_bounced'
        WHEN e.email_normalized IN (
                SELECT b.email_normalized FROM feedback_bounce AS b
                WHERE b.email_normalized <> '' AND b.category IN ('hardbounce', 'overflow'))
            THEN 'address_bounced'
        WHEN e.entity_id IN (SELECT h.entity_id FROM crm_feedback_hold AS h WHERE h.resolved_at IS NULL)
          OR e.email_normalized IN (
                SELECT h.email_normalized FROM crm_feedback_hold AS h
                WHERE h.resolved_at IS NULL AND h.email_normalized <> '')
            THEN 'feedback_held'
        -- lower(trim(...)): an exact entry matches whatever its case, as patterns do (an entry
        -- added by hand as Jane@Example.com must keep jane@example.com off every list)
        WHEN e.email_normalized IN (
                SELECT lower(trim(bl.email_normalized)) FROM crm_blocklist AS bl
                WHERE NOT bl.is_pattern AND bl.email_normalized <> '')
            THEN 'blocklisted'
        -- Patterns use the platform's * and ? wildcards, turned into LIKE patterns by
        -- ${blocklist_pattern_match} (include/crm_sync/extract/queries.py), which reads the
        -- pattern rows once per query, never once per entity: a correlated EXISTS re-scanned the
        -- whole blocklist for every entity (1,000 refused addresses in the blocklist made this
        -- classification of a 1M-entity list 8x slower: 4 s -> 32 s).
        WHEN e.email_normalized <> '' AND ${blocklist_pattern_match}
            THEN 'blocklisted'
        WHEN e.email_normalized IS NULL OR e.email_normalized = '' THEN 'missing_address'
        WHEN NOT (${email_matches}) THEN 'invalid_address'
    END AS reason
FROM crm_entity AS e
LEFT JOIN crm_consent AS c
    ON c.entity_id = e.entity_id
   AND c.consent_id = :sys_consent_id
WHERE ${selected}
