-- PostgreSQL: record one batch of answered upserts of a membership sync (membership_store.py):
-- one statement whatever the batch size, the rows as three arrays (:member_ids, :fields_hashes,
-- :codes; a NULL hash = refused: upload again). A member already recorded keeps its in-list flag.
INSERT INTO platform_membership (
    platform, platform_list_id, member_id, in_audience, fields_hash, upsert_code, upserted_at, confirmed_at
)
SELECT :platform, :platform_list_id, u.member_id, FALSE, u.fields_hash, u.upsert_code, :now, :now
FROM unnest(
    CAST(:member_ids AS text[]), CAST(:fields_hashes AS text[]), CAST(:codes AS text[])
) AS u(member_id, fields_hash, upsert_code)
ON CONFLICT (platform, platform_list_id, member_id) DO UPDATE
SET fields_hash = EXCLUDED.fields_hash,
    upsert_code = EXCLUDED.upsert_code,
    upserted_at = EXCLUDED.upserted_at,
    confirmed_at = EXCLUDED.confirmed_at
