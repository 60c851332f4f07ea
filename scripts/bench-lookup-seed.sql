-- The table state of the lookup workload (scripts/bench-lookup.sh): calls, audits,
-- contacts and SMS over :customers distinct customer numbers, inserted directly (a read
-- benchmark needs the rows, not the deliveries that would have written them). Customer
-- k's number is +1 415 200 0000 + k, stored in the formats platforms send (E.164,
-- "(415) 200-0123", "415.200.0123", "1-415-200-0123"), so the lookup's normalised
-- indexes are what finds them. Calls per customer are skewed (a few customers call
-- often, most once or twice): customer floor(:customers * random()^1.5).
--   psql -v calls=80000 -v customers=20000 -v contacts=12000 -v sms=40000 -f ...
\set ON_ERROR_STOP on
BEGIN;

CREATE TEMP TABLE bench_fmt (f int PRIMARY KEY, fmt text) ON COMMIT DROP;
INSERT INTO bench_fmt VALUES (0, 'e164'), (1, 'paren'), (2, 'dots'), (3, 'dash');

CREATE FUNCTION pg_temp.bench_phone(k int, f int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE f
           WHEN 0 THEN '+1415' || (2000000 + k)
           WHEN 1 THEN '(415) ' || substr((2000000 + k)::text, 1, 3) || '-' || substr((2000000 + k)::text, 4)
           WHEN 2 THEN '415.' || substr((2000000 + k)::text, 1, 3) || '.' || substr((2000000 + k)::text, 4)
           ELSE '1-415-' || substr((2000000 + k)::text, 1, 3) || '-' || substr((2000000 + k)::text, 4)
       END
$$;

INSERT INTO callbridge.calls
    (platform, external_id, agent_id, agent_name, direction, from_number, from_name,
     to_number, to_name, customer_number, customer_name, status, disposition, successful,
     started_at, answered_at, ended_at, duration_seconds, summary, sentiment,
     last_event_at, created_at, updated_at)
SELECT (ARRAY['simz', 'simpleai', 'atoms', 'replicer', 'allo'])[1 + g % 5],
       'seed-' || g, 'agent-' || (g % 40), 'Agent ' || (g % 40), dir,
       CASE dir WHEN 'inbound' THEN phone ELSE '+18005550' || (100 + g % 40) END,
       CASE WHEN dir = 'inbound' AND named THEN 'Customer ' || k END,
       CASE dir WHEN 'outbound' THEN phone ELSE '+18005550' || (100 + g % 40) END,
       CASE WHEN dir = 'outbound' AND named THEN 'Customer ' || k END,
       CASE WHEN g % 2 = 0 THEN phone END,
       CASE WHEN g % 2 = 0 AND named THEN 'Customer ' || k END,
       'completed', (ARRAY['answered', 'voicemail', 'no-answer', 'transferred'])[1 + g % 4],
       g % 4 = 0, at, at + interval '5 seconds', at + (30 + g % 600) * interval '1 second',
       30 + g % 600,
       'The caller asked about their order ' || g || ' and the agent explained the next steps.',
       (ARRAY['positive', 'neutral', 'negative'])[1 + g % 3], at + interval '11 minutes',
       at + interval '11 minutes', at + interval '11 minutes'
  FROM (SELECT g, k, pg_temp.bench_phone(k, g % 4) AS phone,
               CASE WHEN r1 < 0.6 THEN 'inbound' ELSE 'outbound' END AS dir,
               r2 < 0.7 AS named,
               now() - r3 * interval '180 days' AS at
          FROM (SELECT g, floor(:customers * random() ^ 1.5)::int AS k, random() AS r1,
                       random() AS r2, random() AS r3
                  FROM generate_series(1, :calls) AS g) AS x) AS y;

-- An audit for 30% of the calls, analytics for 20%; a fifth of each asks for a follow-up.
INSERT INTO callbridge.call_audits (call_id, platform, kind, status, qualified, reason,
                                    summary, results, occurred_at)
SELECT id, platform, 'audit', 'completed', id % 2 = 0,
       CASE WHEN id % 2 = 0 THEN 'Interested; asked for a quote' ELSE 'Not the decision maker' END,
       'Audit of call ' || id,
       jsonb_build_object('follow_up_needed', id % 5 = 0, 'score', id % 100),
       ended_at + interval '1 minute'
  FROM callbridge.calls WHERE id % 10 < 3;
INSERT INTO callbridge.call_audits (call_id, platform, kind, status, results, occurred_at)
SELECT id, platform, 'analytics', 'completed',
       jsonb_build_object('callback_requested', CASE WHEN id % 5 = 1 THEN 'yes' ELSE 'no' END),
       ended_at + interval '2 minutes'
  FROM callbridge.calls WHERE id % 10 >= 8;

-- Contacts: the first :contacts customers, one or two numbers each in any format; a
-- tenth also have a second contact on another platform.
INSERT INTO callbridge.contacts (platform, external_id, first_name, last_name, company,
                                 emails, phone_numbers, last_event_at)
SELECT p, 'seed-' || p || '-' || k, 'First' || k, 'Last' || k,
       CASE WHEN k % 3 = 0 THEN 'Company ' || (k % 500) END,
       ARRAY['person' || k || '@example.com'],
       CASE WHEN k % 4 = 0
            THEN ARRAY[pg_temp.bench_phone(k, k % 4), '+1628' || (5000000 + k)]
            ELSE ARRAY[pg_temp.bench_phone(k, k % 4)] END,
       now() - (k % 365) * interval '1 day'
  FROM generate_series(0, :contacts - 1) AS k
 CROSS JOIN LATERAL unnest(CASE WHEN k % 10 = 0 THEN ARRAY['allo', 'simpleai']
                                ELSE ARRAY['allo'] END) AS p;

-- SMS, skewed like the calls.
INSERT INTO callbridge.sms_messages (platform, external_id, direction, message_type,
                                     content, sent_at, from_number, to_number,
                                     last_event_at)
SELECT 'allo', 'seed-sms-' || g, dir, 'sms', 'Message ' || g || ': see you tomorrow at 10.',
       at,
       CASE dir WHEN 'inbound' THEN pg_temp.bench_phone(k, g % 4) ELSE '+18005550100' END,
       CASE dir WHEN 'outbound' THEN pg_temp.bench_phone(k, g % 4) ELSE '+18005550100' END,
       at
  FROM (SELECT g, floor(:customers * random() ^ 1.5)::int AS k,
               CASE WHEN random() < 0.5 THEN 'inbound' ELSE 'outbound' END AS dir,
               now() - random() * interval '180 days' AS at
          FROM generate_series(1, :sms) AS g) AS x;

COMMIT;
VACUUM ANALYZE callbridge.calls, callbridge.call_audits, callbridge.contacts,
               callbridge.sms_messages;
