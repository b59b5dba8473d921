-- The bounces (kind 'bounces') or unsubscribes (kind 'unsubscribes') of known entities, to be
-- applied by the feedback apply of step 2 (the entity id is the recipient id). Deliberately not
-- ordered: read through a server-side cursor, an ORDER BY line_no makes PostgreSQL walk the whole
-- table by its primary key (cursor plans favour the first rows) instead of one sequential scan.
SELECT f.line_no, f.crm_entity_id, f.event_type, f.occurred_at, f.list_id, f.mailing_id
FROM tmp_response_first f
WHERE f.status = 'applied'
  AND ((:kind = 'bounces' AND f.event_type IN ('hardbounce', 'softbounce'))
       OR (:kind = 'unsubscribes' AND f.event_type = 'unsubscribe'))
