-- Selection of the list "product_updates" (config/lists.yaml): customers, i.e. contacts and
-- accounts (leads have bought nothing to get updates about), except the members of one marketing
-- list (:excluded_marketing_list, e.g. the VIP accounts who hear product news from their account
-- manager, not from a mass mailing).
--
-- Contract for every file in sql/lists/: one SELECT returning a column named entity_id; :params
-- come from the list's `selection.params`; no trailing semicolon needed. Consent, bounces,
-- unsubscribes, the blocklist, address checks and de-duplication are applied by the extraction
-- around this query -- a selection only says who belongs to the list.
SELECT e.entity_id
FROM crm_entity AS e
WHERE e.entity_type IN ('contact', 'account')
  AND NOT EXISTS (
        SELECT 1
        FROM crm_marketing_list_member AS m
        WHERE m.entity_id = e.entity_id
          AND m.list_key = :excluded_marketing_list
  )
