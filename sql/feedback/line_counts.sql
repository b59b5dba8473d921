-- Per distinct event (first line): did it match CRM entities, or nobody? apply.py derives
-- applied / known / rejected from these and the rows the insert added.
SELECT count(*) AS firsts,
       coalesce(sum(matched), 0) AS matched_firsts,
       coalesce(sum(unknown), 0) AS unknown_firsts
FROM (
    SELECT line_no,
           max(CASE WHEN entity_id IS NULL THEN 0 ELSE 1 END) AS matched,
           max(CASE WHEN entity_id IS NULL THEN 1 ELSE 0 END) AS unknown
    FROM tmp_feedback_match
    GROUP BY line_no
) per_line
