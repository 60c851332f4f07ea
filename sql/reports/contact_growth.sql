-- contact_growth — how many contacts were added per day and platform, and how many
-- the platform had in all by the end of that day.
--
-- A contact's day is the day callbridge first stored it (contacts.created_at): the
-- platforms' contact events carry no creation time that every platform sends, so a
-- contact loaded by a later replay counts on the day of the replay.
--
-- Parameters (psql variables, -v name=value):
--   from  first day shown, inclusive (YYYY-MM-DD; default -infinity); contacts added
--         before it still count in `total`
--   to    last day shown, inclusive (YYYY-MM-DD; default infinity)
--   tz    time zone the days are counted in (default UTC)
--   source only that source's rows (docs/sources.md; default: every source)
--
-- Columns: day, platform, added (contacts first stored that day), total (contacts of
-- the platform stored up to the end of that day). Days without a new contact are left
-- out.
\ir period.psql

WITH per_day AS (
    SELECT (created_at AT TIME ZONE :'tz')::date AS day, platform, count(*) AS added
      FROM callbridge.contacts
     WHERE (:'source' = '' OR source = :'source')
     GROUP BY 1, 2
), growth AS (
    SELECT day, platform, added,
           sum(added) OVER (PARTITION BY platform ORDER BY day) AS total
      FROM per_day
)
SELECT day, platform, added, total
  FROM growth
 WHERE day BETWEEN :'from'::date AND :'to'::date
 ORDER BY day, platform;
