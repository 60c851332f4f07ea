-- daily_call_volume — how many calls there were per day, platform, direction and
-- status, how many of them connected, and how long they lasted in all.
--
-- Parameters (psql variables, -v name=value):
--   from  first day, inclusive (YYYY-MM-DD; default -infinity)
--   to    last day, inclusive (YYYY-MM-DD; default infinity)
--   tz    time zone the days are counted in (default UTC)
--   source only that source's rows (docs/sources.md; default: every source)
--
-- Columns: day, platform, direction, status (as the platform sent it; empty when
-- unknown), calls, connected (see callbridge.call_facts), total_duration_seconds (over
-- the calls whose duration is known). A call's day is the day of call_facts.call_at.
\ir period.psql

WITH facts AS (
    SELECT (call_at AT TIME ZONE :'tz')::date AS day, platform, direction, status, connected,
           duration_seconds
      FROM callbridge.call_facts
     WHERE (:'source' = '' OR source = :'source')
)
SELECT day, platform, direction, status,
       count(*) AS calls,
       count(*) FILTER (WHERE connected) AS connected,
       sum(duration_seconds) AS total_duration_seconds
  FROM facts
 WHERE day BETWEEN :'from'::date AND :'to'::date
 GROUP BY day, platform, direction, status
 ORDER BY day, platform, direction, status;
