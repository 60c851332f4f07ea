-- sms_activity — how many text messages went each way per day, platform, direction
-- and message type.
--
-- Parameters (psql variables, -v name=value):
--   from  first day, inclusive (YYYY-MM-DD; default -infinity)
--   to    last day, inclusive (YYYY-MM-DD; default infinity)
--   tz    time zone the days are counted in (default UTC)
--   source only that source's rows (docs/sources.md; default: every source)
--
-- Columns: day (of sent_at; when the platform sent no time, of the message's latest
-- event, else of when callbridge stored it), platform, direction, message_type (sms or
-- mms; empty when unknown), messages.
\ir period.psql

WITH messages AS (
    SELECT (coalesce(sent_at, last_event_at, created_at) AT TIME ZONE :'tz')::date AS day,
           platform, direction, message_type
      FROM callbridge.sms_messages
     WHERE (:'source' = '' OR source = :'source')
)
SELECT day, platform, direction, message_type, count(*) AS messages
  FROM messages
 WHERE day BETWEEN :'from'::date AND :'to'::date
 GROUP BY day, platform, direction, message_type
 ORDER BY day, platform, direction, message_type;
