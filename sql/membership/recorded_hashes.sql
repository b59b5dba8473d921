-- The membership sync's upload check (membership_store.py: RecordedHashes): for the snapshot rows of
-- list run :list_run_id with :first_seq <= seq < :end_seq, in seq order, the fields hash recorded
-- for that contact in platform list (:platform, :platform_list_id), NULL when none is recorded (or
-- its last upsert was refused). PostgreSQL reads the whole snapshot with this one query through a
-- server-side cursor (one join instead of a lookup per page: with the statistics of an empty record
-- a first night's lookups each read the whole growing record); SQLite one page at a time.
SELECT s.seq, m.fields_hash
FROM list_snapshot AS s
LEFT JOIN platform_membership AS m
    ON m.platform = :platform
   AND m.platform_list_id = :platform_list_id
   AND m.member_id = s.recipient_id
WHERE s.list_run_id = :list_run_id
  AND s.seq >= :first_seq
  AND s.seq < :end_seq
ORDER BY s.seq
