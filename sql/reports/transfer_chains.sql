-- transfer_chains — calls handed over from one party to another: each chain's calls in
-- order, who handed each one over to whom, and the chain's total time.
--
-- Parameters (psql variables, -v name=value):
--   from  first day, inclusive (YYYY-MM-DD; default -infinity)
--   to    last day, inclusive (YYYY-MM-DD; default infinity)
--   tz    time zone the days and times are shown in (default UTC)
--   source only that source's rows (docs/sources.md; default: every source)
--
-- A chain is the calls of one platform that share calls.transfer_chain_id (Allo's
-- transfer_original_call_id: the first call of the chain), with the first call itself
-- (its external_id is the chain id), whether or not it carries the id. A chain is listed
-- when its first call is in the period.
--
-- Columns, one row per call of a chain:
--   platform, chain_id, position   the call's place in the chain, 1-based, by call_at
--                                  (callbridge.call_facts) then external_id;
--   external_id, call_at           the call, and when it happened (in tz, to the second);
--   handed_over_by, handed_over_to the parties the call was transferred from and to: the
--                                  name, else the user's email, else the number; empty
--                                  when the call carries none;
--   duration_seconds               the call's duration;
--   chain_calls                    the calls in the chain;
--   chain_duration_seconds         the sum of their durations (those known);
--   chain_elapsed_seconds          from the first call's start to the last call's end
--                                  (ended_at, else call_at + duration), whole seconds.
\ir period.psql

WITH chains AS (
    SELECT DISTINCT platform, transfer_chain_id AS chain_id
      FROM callbridge.call_facts
     WHERE transfer_chain_id IS NOT NULL AND (:'source' = '' OR source = :'source')
), members AS (
    SELECT ch.chain_id, f.*
      FROM chains ch
      JOIN callbridge.call_facts f
        ON f.platform = ch.platform
       AND (f.transfer_chain_id = ch.chain_id OR f.external_id = ch.chain_id)
), ordered AS (
    SELECT m.*,
           row_number() OVER (PARTITION BY platform, chain_id ORDER BY call_at, external_id)
               AS position,
           count(*) OVER w AS chain_calls,
           sum(duration_seconds) OVER w AS chain_duration_seconds,
           min(call_at) OVER w AS chain_start,
           max(coalesce(ended_at, call_at + coalesce(duration_seconds, 0) * interval '1 second'))
               OVER w AS chain_end
      FROM members m
    WINDOW w AS (PARTITION BY platform, chain_id)
)
SELECT platform, chain_id, position, external_id,
       to_char(call_at AT TIME ZONE :'tz', 'YYYY-MM-DD HH24:MI:SS') AS call_at,
       coalesce(transferred_from_name, transferred_from_email, transferred_from_number)
           AS handed_over_by,
       coalesce(transferred_to_name, transferred_to_email, transferred_to_number)
           AS handed_over_to,
       duration_seconds, chain_calls, chain_duration_seconds,
       round(extract(epoch FROM chain_end - chain_start)::numeric) AS chain_elapsed_seconds
  FROM ordered
 WHERE (chain_start AT TIME ZONE :'tz')::date BETWEEN :'from'::date AND :'to'::date
 ORDER BY platform, chain_start, chain_id, position;
