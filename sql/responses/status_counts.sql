-- Distinct events of the file by outcome and type (apply.py turns these into the line counts).
SELECT status, event_type, count(*) AS events
FROM tmp_response_first
GROUP BY status, event_type
