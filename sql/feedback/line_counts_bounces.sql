-- Outcome of the distinct events (first lines); apply.py derives applied / known / rejected.
-- applied: lines that stored at least one new row in this file (file_id).
SELECT
    (SELECT count(DISTINCT line_no) FROM tmp_feedback_match) AS firsts,
    (SELECT count(DISTINCT line_no) FROM tmp_feedback_match WHERE entity_id IS NOT NULL) AS matched_firsts,
    (SELECT count(*) FROM tmp_feedback_match WHERE entity_id IS NULL) AS unknown_firsts,
    (SELECT count(DISTINCT m.line_no)
     FROM tmp_feedback_match m
     JOIN feedback_bounce f ON f.event_key = m.row_key
     WHERE m.entity_id IS NOT NULL AND f.file_id = :file_id) AS applied
