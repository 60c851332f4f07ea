-- agent_performance — how each agent (per platform) does: volume, connections,
-- durations, success, qualification and the sentiment of its calls.
--
-- Parameters (psql variables, -v name=value):
--   from  first day, inclusive (YYYY-MM-DD; default -infinity)
--   to    last day, inclusive (YYYY-MM-DD; default infinity)
--   tz    time zone the days are counted in (default UTC)
--   source only that source's rows (docs/sources.md; default: every source)
--
-- Columns: platform, agent_id, agent_name (any one the calls carry), calls,
--   connected, connect_rate   calls that reached someone (callbridge.call_facts.connected:
--                             not a no-answer/busy/failed/canceled/missed/voicemail status,
--                             and answered, or longer than 0 s, or a status such as
--                             completed/answered), over all calls;
--   avg_duration_seconds, p90_duration_seconds   over the calls whose duration is known
--                             (p90: percentile_cont(0.9), interpolated);
--   successful, success_rate  calls.successful true, over the calls where it is known;
--   qualified, qualification_rate   audit qualified true, over the audited calls whose
--                             verdict is known (SimZ audits);
--   sentiment_positive, sentiment_neutral, sentiment_negative, sentiment_other,
--   sentiment_none            calls per sentiment (in lower case; other: any other word,
--                             none: no sentiment).
-- Rates are rounded to 3 decimals, durations to 2; a rate with nothing to count is empty.
\ir period.psql

WITH facts AS (
    SELECT platform, agent_id, agent_name, connected, duration_seconds, successful,
           audit_qualified, lower(sentiment) AS sentiment
      FROM callbridge.call_facts
     WHERE (call_at AT TIME ZONE :'tz')::date BETWEEN :'from'::date AND :'to'::date
       AND (:'source' = '' OR source = :'source')
)
SELECT platform, agent_id,
       max(agent_name) AS agent_name,
       count(*) AS calls,
       count(*) FILTER (WHERE connected) AS connected,
       round(count(*) FILTER (WHERE connected)::numeric / count(*), 3) AS connect_rate,
       round(avg(duration_seconds), 2) AS avg_duration_seconds,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds))::numeric, 2)
           AS p90_duration_seconds,
       count(*) FILTER (WHERE successful) AS successful,
       round(count(*) FILTER (WHERE successful)::numeric / nullif(count(successful), 0), 3)
           AS success_rate,
       count(*) FILTER (WHERE audit_qualified) AS qualified,
       round(count(*) FILTER (WHERE audit_qualified)::numeric / nullif(count(audit_qualified), 0), 3)
           AS qualification_rate,
       count(*) FILTER (WHERE sentiment = 'positive') AS sentiment_positive,
       count(*) FILTER (WHERE sentiment = 'neutral') AS sentiment_neutral,
       count(*) FILTER (WHERE sentiment = 'negative') AS sentiment_negative,
       count(*) FILTER (WHERE sentiment NOT IN ('positive', 'neutral', 'negative')) AS sentiment_other,
       count(*) FILTER (WHERE sentiment IS NULL) AS sentiment_none
  FROM facts
 GROUP BY platform, agent_id
 ORDER BY platform, agent_id;
