-- campaign_outcomes — how each campaign's calls ended: calls, connections, successes,
-- qualified leads and average duration. A call's campaign is a key of its custom data
-- (calls.metadata: lead customData, variables, data collected), read at the top level.
--
-- Parameters (psql variables, -v name=value):
--   key           the custom-data key naming the campaign (default campaignTag)
--   fallback_key  read when the call has no `key` (default campaign_id)
--   from, to      first and last day, inclusive (YYYY-MM-DD; default all days)
--   tz            time zone the days are counted in (default UTC)
--
-- Columns: campaign (the key's value as text; empty for calls with neither key),
-- calls, connected (callbridge.call_facts.connected), successful (calls.successful
-- true), qualified (audit qualified true), avg_duration_seconds (over the calls whose
-- duration is known, 2 decimals). Ordered by campaign, the calls without one last.
\if :{?key}
\else
\set key 'campaignTag'
\endif
\if :{?fallback_key}
\else
\set fallback_key 'campaign_id'
\endif
\ir period.psql

WITH facts AS (
    SELECT coalesce(metadata ->> :'key', metadata ->> :'fallback_key') AS campaign,
           connected, successful, audit_qualified, duration_seconds
      FROM callbridge.call_facts
     WHERE (call_at AT TIME ZONE :'tz')::date BETWEEN :'from'::date AND :'to'::date
       AND (:'source' = '' OR source = :'source')
)
SELECT campaign,
       count(*) AS calls,
       count(*) FILTER (WHERE connected) AS connected,
       count(*) FILTER (WHERE successful) AS successful,
       count(*) FILTER (WHERE audit_qualified) AS qualified,
       round(avg(duration_seconds), 2) AS avg_duration_seconds
  FROM facts
 GROUP BY campaign
 ORDER BY campaign NULLS LAST;
