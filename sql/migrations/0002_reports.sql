-- 0002: what the reports in sql/reports read. call_facts is a flat view, one row per
-- call, for BI tools and for the reports; the GIN index serves transcript_search.sql.

-- One row per call: the call's own columns, the SimZ audit and the Atoms analytics
-- (call_audits kinds 'audit' and 'analytics', at most one of each per call), the number
-- of transcript segments, and two derived columns every report shares:
--   call_at    when the call happened: the first known of started_at, answered_at,
--              ended_at, then last_event_at (a stub created by an audit has only that),
--              then created_at. Reports bucket calls by the day of call_at.
--   connected  whether the call reached someone: false when the status says it did not
--              (no answer, busy, failed, canceled, missed, blocked, rejected, voicemail;
--              compared in lower case without spaces, '-' or '_', so "No Answer",
--              "no-answer" and "no_answer" are one); else true when it was answered
--              (answered_at), lasted (duration_seconds > 0) or its status says so
--              (answered, connected, completed, in progress, transferred...); else false.
--              A voicemail is not a connection even when it has a duration.
CREATE VIEW callbridge.call_facts AS
SELECT c.id AS call_id,
       c.platform,
       c.external_id,
       c.account_id,
       c.agent_id,
       c.agent_name,
       c.direction,
       c.from_number,
       c.from_name,
       c.to_number,
       c.to_name,
       c.customer_number,
       c.customer_name,
       c.status,
       c.disposition,
       c.successful,
       CASE
           WHEN st.word IN ('noanswer', 'unanswered', 'busy', 'failed', 'canceled', 'cancelled',
                            'missed', 'blocked', 'rejected', 'voicemail') THEN false
           WHEN c.answered_at IS NOT NULL OR c.duration_seconds > 0 THEN true
           ELSE coalesce(st.word IN ('answered', 'connected', 'completed', 'inprogress')
                         OR st.word LIKE 'transferred%', false)
       END AS connected,
       coalesce(c.started_at, c.answered_at, c.ended_at, c.last_event_at, c.created_at) AS call_at,
       c.started_at,
       c.answered_at,
       c.ended_at,
       c.duration_seconds,
       c.billed_minutes,
       c.cost,
       c.sentiment,
       c.summary,
       au.status AS audit_status,
       au.qualified AS audit_qualified,
       au.reason AS audit_reason,
       an.summary AS analytics_summary,
       (SELECT count(*) FROM callbridge.transcript_segments s WHERE s.call_id = c.id) AS transcript_segments,
       c.metadata
  FROM callbridge.calls c
 CROSS JOIN LATERAL (SELECT lower(regexp_replace(c.status, '[^[:alpha:]]', '', 'g')) AS word) st
  LEFT JOIN callbridge.call_audits au ON au.call_id = c.id AND au.kind = 'audit'
  LEFT JOIN callbridge.call_audits an ON an.call_id = c.id AND an.kind = 'analytics';

COMMENT ON VIEW callbridge.call_facts IS
    'One row per call with its audit, analytics and segment count; see 0002_reports.sql for call_at and connected.';

-- Full-text search over transcript lines (sql/reports/transcript_search.sql). The
-- 'simple' configuration: no stemming and no stop words, so any language's words are
-- found as spoken. A query must use this very expression to use the index.
CREATE INDEX transcript_segments_content_fts ON callbridge.transcript_segments
    USING gin (to_tsvector('simple', content));

-- No index on call_at: the reports aggregate over days of calls and read the table
-- once; an expression index would be one more index for every call write to maintain.
