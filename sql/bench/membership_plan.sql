-- Bench: what the fewest platform calls must carry between two snapshots of one list (:before,
-- NULL on a first night, and :after): members new to the list, members gone from it, and members
-- in both whose uploaded address or fields changed.
SELECT
    (SELECT count(*) FROM list_snapshot a
     WHERE a.list_run_id = :after
       AND NOT EXISTS (SELECT 1 FROM list_snapshot b
                       WHERE b.list_run_id = :before AND b.recipient_id = a.recipient_id)) AS joining,
    (SELECT count(*) FROM list_snapshot b
     WHERE b.list_run_id = :before
       AND NOT EXISTS (SELECT 1 FROM list_snapshot a
                       WHERE a.list_run_id = :after AND a.recipient_id = b.recipient_id)) AS leaving,
    (SELECT count(*) FROM list_snapshot a
     JOIN list_snapshot b ON b.list_run_id = :before AND b.recipient_id = a.recipient_id
     WHERE a.list_run_id = :after
       AND (a.email <> b.email OR a.attr_values::text <> b.attr_values::text)) AS changed
