-- 0007: what the pre-call lookups read and write (docs/precall.md): the caller's number
-- of every call and SMS, and the numbers of every contact, normalised and indexed, so a
-- lookup is a few index probes; callbridge.caller_facts, the lookup itself; and
-- callbridge.precall_lookups, one row per lookup the platforms made.
--
-- The indexes are built with plain CREATE INDEX: on a live deployment, writes to calls,
-- sms_messages and contacts wait while they build (about a second per 100,000 calls on
-- a small machine); deliveries meanwhile wait for the commit deadline and go to the
-- spool, as in any other stall.

-- The other party's number of a call, normalised (callbridge.normalize_phone): the
-- customer's number when the platform names it, else the caller for an inbound call and
-- the callee for an outbound one; NULL when neither is known. The same rule as the
-- contact_activity view, except that a call of unknown direction without a customer
-- number has no party here (an index holds one value per row).
CREATE FUNCTION callbridge.call_party_phone(customer_number text, direction text,
                                            from_number text, to_number text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT callbridge.normalize_phone(coalesce(customer_number, CASE direction
                                              WHEN 'inbound' THEN from_number
                                              WHEN 'outbound' THEN to_number
                                          END))
$$;

-- The other party's number of an SMS: the sender of an inbound one, the recipient of an
-- outbound one.
CREATE FUNCTION callbridge.sms_party_phone(direction text, from_number text, to_number text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT callbridge.normalize_phone(CASE direction
                                      WHEN 'inbound' THEN from_number
                                      WHEN 'outbound' THEN to_number
                                  END)
$$;

-- A contact's numbers, normalised, without NULLs or repeats.
CREATE FUNCTION callbridge.normalize_phones(numbers text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT coalesce(array_agg(DISTINCT n ORDER BY n), '{}')
  FROM unnest(numbers) AS x(number)
 CROSS JOIN LATERAL callbridge.normalize_phone(x.number) AS n
 WHERE n IS NOT NULL
$$;

CREATE INDEX calls_party_phone ON callbridge.calls
    (callbridge.call_party_phone(customer_number, direction, from_number, to_number));
CREATE INDEX sms_messages_party_phone ON callbridge.sms_messages
    (callbridge.sms_party_phone(direction, from_number, to_number));
CREATE INDEX contacts_normalized_phones ON callbridge.contacts
    USING gin (callbridge.normalize_phones(phone_numbers));

-- What we know about the person at phone, across every platform, as one row:
--   known            any call, SMS or contact matched;
--   name, company    the most recently updated matching contact's (first and last name
--                    joined); without a contact, the last call's customer name, else the
--                    caller's name of an inbound call or the callee's of an outbound one;
--   calls            how many calls were made with this number;
--   last_call_*      the latest call (by when it happened: started, answered, ended, last
--                    event, created): time, platform, direction, outcome (its disposition,
--                    else its status), summary and sentiment;
--   last_qualified, last_qualified_reason
--                    the latest audit's verdict (call_audits kind 'audit');
--   last_sms_*       the latest SMS either way;
--   follow_up        the latest call's audit or analytics asks for one: its results hold
--                    follow_up_needed, needs_follow_up, follow_up or callback_requested
--                    set to true (a JSON true, or "true", "yes", "1").
-- A number that normalises to fewer than 7 digits matches nothing (as in contact_activity).
-- lock_timeout (e.g. '300ms') bounds every lock wait of the lookup, for this transaction
-- only: a lookup stuck behind a lock fails fast instead of holding its connection.
-- only_source, when given, limits every row read to that source's, on any platform (a
-- source with precall_scope = source, docs/sources.md: a client's accounts share a name).
-- The plans are generic (plan_cache_mode): PostgreSQL would otherwise re-plan the lookup
-- on every call whenever its first calls on a connection were for unknown numbers,
-- which costs a millisecond or more of planning for 0.05 ms of work (BENCHMARKS.md,
-- "Pre-call lookups").
CREATE FUNCTION callbridge.caller_facts(phone text, lock_timeout text DEFAULT NULL,
                                        only_source text DEFAULT NULL)
RETURNS TABLE (phone_e164 text, known boolean, name text, company text, calls bigint,
               last_call_at timestamptz, last_call_platform text, last_call_direction text,
               last_call_outcome text, last_call_summary text, last_call_sentiment text,
               last_qualified boolean, last_qualified_reason text, last_sms_at timestamptz,
               last_sms_direction text, last_sms text, follow_up boolean)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    p constant text := callbridge.normalize_phone(phone);
BEGIN
    IF lock_timeout IS NOT NULL THEN
        PERFORM set_config('lock_timeout', lock_timeout, true);
    END IF;
    IF p IS NULL OR length(regexp_replace(p, '[^0-9]', '', 'g')) < 7 THEN
        RETURN QUERY SELECT p, false, NULL::text, NULL::text, 0::bigint, NULL::timestamptz,
                            NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                            NULL::boolean, NULL::text, NULL::timestamptz, NULL::text,
                            NULL::text, false;
        RETURN;
    END IF;
    RETURN QUERY
    WITH c AS (
        SELECT k.id, k.platform, k.direction, k.disposition, k.status, k.summary,
               k.sentiment, k.customer_name, k.from_name, k.to_name,
               coalesce(k.started_at, k.answered_at, k.ended_at, k.last_event_at,
                        k.created_at) AS at
          FROM callbridge.calls k
         WHERE callbridge.call_party_phone(k.customer_number, k.direction, k.from_number,
                                           k.to_number) = p
           AND (only_source IS NULL OR k.source = only_source)
    ), last_call AS (
        SELECT * FROM c ORDER BY c.at DESC, c.id DESC LIMIT 1
    ), contact AS (
        SELECT nullif(concat_ws(' ', nullif(t.first_name, ''), nullif(t.last_name, '')), '')
                   AS name,
               t.company
          FROM callbridge.contacts t
         WHERE callbridge.normalize_phones(t.phone_numbers) @> ARRAY[p]
           AND (only_source IS NULL OR t.source = only_source)
         ORDER BY t.last_event_at DESC NULLS LAST, t.updated_at DESC, t.id DESC
         LIMIT 1
    ), call_name AS (
        SELECT coalesce(c.customer_name,
                        CASE c.direction WHEN 'inbound' THEN c.from_name
                                         WHEN 'outbound' THEN c.to_name END) AS name
          FROM c
         WHERE coalesce(c.customer_name,
                        CASE c.direction WHEN 'inbound' THEN c.from_name
                                         WHEN 'outbound' THEN c.to_name END) IS NOT NULL
         ORDER BY c.at DESC, c.id DESC
         LIMIT 1
    ), audit AS (
        SELECT a.qualified, a.reason
          FROM callbridge.call_audits a
          JOIN c ON c.id = a.call_id
         WHERE a.kind = 'audit'
         ORDER BY coalesce(a.occurred_at, c.at) DESC, a.id DESC
         LIMIT 1
    ), follow AS (
        SELECT bool_or(lower(a.results ->> f) IN ('true', 'yes', '1')) AS wanted
          FROM callbridge.call_audits a
          JOIN last_call l ON l.id = a.call_id
         CROSS JOIN unnest(ARRAY['follow_up_needed', 'needs_follow_up', 'follow_up',
                                 'callback_requested']) AS f
         WHERE jsonb_typeof(a.results) = 'object'
    ), sms AS (
        SELECT coalesce(m.sent_at, m.last_event_at, m.created_at) AS at, m.direction,
               m.content
          FROM callbridge.sms_messages m
         WHERE callbridge.sms_party_phone(m.direction, m.from_number, m.to_number) = p
           AND (only_source IS NULL OR m.source = only_source)
         ORDER BY 1 DESC, m.id DESC
         LIMIT 1
    )
    SELECT p,
           EXISTS (SELECT 1 FROM c) OR EXISTS (SELECT 1 FROM contact)
               OR EXISTS (SELECT 1 FROM sms),
           coalesce((SELECT contact.name FROM contact), (SELECT call_name.name FROM call_name)),
           (SELECT contact.company FROM contact),
           (SELECT count(*) FROM c),
           l.at, l.platform, l.direction, coalesce(l.disposition, l.status), l.summary,
           l.sentiment,
           (SELECT audit.qualified FROM audit), (SELECT audit.reason FROM audit),
           (SELECT sms.at FROM sms), (SELECT sms.direction FROM sms),
           (SELECT sms.content FROM sms),
           coalesce((SELECT follow.wanted FROM follow), false)
      FROM (SELECT 1) AS one
      LEFT JOIN last_call l ON true;
END
$$;

COMMENT ON FUNCTION callbridge.caller_facts(text, text, text) IS
    'The pre-call lookup: what is known about the person at a phone number, across '
    'platforms (docs/precall.md).';

-- One row per pre-call lookup a platform made (GET /v1/callers included), written after
-- the answer, in batches, without waiting for the disk (synchronous_commit off): a
-- lookup is never delayed by its record. A lookup made while the database is away is
-- counted in callbridge_precall_lookups_total but not recorded.
--   adapter      the answer's shape: simpleai, retell, elevenlabs, or api (/v1/callers)
--   phone        the caller's number, normalised
--   outcome      known, unknown, budget_exceeded (answered unknown after
--                CALLBRIDGE_PRECALL_BUDGET_MS), unavailable (the database was away or
--                refused the lookup: answered unknown at once)
CREATE TABLE callbridge.precall_lookups (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    adapter       text        NOT NULL,
    received_at   timestamptz NOT NULL,
    phone         text,
    called_number text,
    agent_id      text,
    outcome       text        NOT NULL
                  CHECK (outcome IN ('known', 'unknown', 'budget_exceeded', 'unavailable')),
    duration_ms   numeric     NOT NULL
);
CREATE INDEX precall_lookups_received_at ON callbridge.precall_lookups (received_at);
CREATE INDEX precall_lookups_phone ON callbridge.precall_lookups (phone);
