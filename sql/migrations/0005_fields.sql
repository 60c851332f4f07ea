-- 0005: every documented field where a report can use it (docs/database.md).
--   webhook_events.entity_id   the external id of the call, SMS or contact an event is
--                              about, indexed with the platform: any raw field is one
--                              join away (calls.external_id = webhook_events.entity_id).
--   calls                      cost_unit, tags, carrier_call_id, dialed_number/_name,
--                              transfer_chain_id, transferred_from_*/transferred_to_*
--                              (number, name, email), integration_id, owner_email.
-- Allo's user_email (the route's owner) moves from agent_id to owner_email.
--
-- Locks. Every ADD COLUMN has no default, so it only changes the catalog (no rewrite).
-- `callbridge migrate` applies a file in one transaction, though, so the ACCESS EXCLUSIVE
-- lock of the ALTERs is held until COMMIT, through the backfills below: writers to
-- webhook_events and calls wait for the length of the backfill. Each backfill is one
-- UPDATE over its table (accepted for this migration: the tables it reads are the
-- platform's raw events, and a deployment with millions of them should migrate at a
-- quiet hour). The backfills re-stamp the rows they change, so the change feed and CDC
-- carry the new columns of existing calls too.
--
-- The backfills read the fields the mappers read (src/map_<slug>.c), in their first
-- spelling and the common second one; `callbridge replay` re-maps stored events exactly,
-- for the rest (Simple AI's guessed fields: tags, analyzer results, cost unit).

ALTER TABLE callbridge.webhook_events ADD COLUMN entity_id text;

ALTER TABLE callbridge.calls
    ADD COLUMN cost_unit               text,
    ADD COLUMN tags                    text[],
    ADD COLUMN carrier_call_id         text,
    ADD COLUMN dialed_number           text,
    ADD COLUMN dialed_name             text,
    ADD COLUMN transfer_chain_id       text,
    ADD COLUMN transferred_from_number text,
    ADD COLUMN transferred_from_name   text,
    ADD COLUMN transferred_from_email  text,
    ADD COLUMN transferred_to_number   text,
    ADD COLUMN transferred_to_name     text,
    ADD COLUMN transferred_to_email    text,
    ADD COLUMN integration_id          text,
    ADD COLUMN owner_email             text;

COMMENT ON COLUMN callbridge.webhook_events.entity_id IS
    'External id of the call, SMS or contact the event is about (calls.external_id, ...), when it has one';
COMMENT ON COLUMN callbridge.calls.cost_unit IS
    'What cost counts: usd, credits, tokens, ... as the platform documents it; NULL when unknown';
COMMENT ON COLUMN callbridge.calls.transfer_chain_id IS
    'The first call of the transfer chain this call is in (the same for every call of the chain)';
COMMENT ON COLUMN callbridge.calls.owner_email IS
    'The user who owns the route or line the call came in on (Allo user_email)';

-- A value bound for an index as the daemon writes it (src/rows.h, ROWS_MAX_KEY_LEN):
-- as is up to 200 bytes, else "sha256:" and the hex SHA-256 of its text.
CREATE FUNCTION callbridge.bound_key(v text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN octet_length(v) <= 200 THEN v
            ELSE 'sha256:' || encode(sha256(convert_to(v, 'UTF8')), 'hex') END
$$;

-- A JSON string (not empty) or number as text, as the mappers' field_str reads it; NULL
-- for anything else.
CREATE FUNCTION callbridge.json_text(j jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE jsonb_typeof(j) WHEN 'string' THEN nullif(j #>> '{}', '')
                            WHEN 'number' THEN j #>> '{}' END
$$;

-- entity_id of the events stored so far, per platform as its mapper names the entity.
-- Allo: data (else body) id of call, SMS and contact topics; the others: the call id.
UPDATE callbridge.webhook_events e
   SET entity_id = callbridge.bound_key(x.id)
  FROM (SELECT w.id AS event_id,
               CASE w.platform
                   WHEN 'simz' THEN callbridge.json_text(w.payload -> 'callId')
                   WHEN 'simpleai' THEN coalesce(
                       callbridge.json_text(w.payload #> '{payload,call_id}'),
                       callbridge.json_text(w.payload #> '{payload,call,call_id}'),
                       callbridge.json_text(w.payload #> '{payload,callId}'),
                       callbridge.json_text(w.payload #> '{payload,call,callId}'),
                       callbridge.json_text(w.payload #> '{payload,call,id}'))
                   WHEN 'atoms' THEN coalesce(
                       callbridge.json_text(w.payload #> '{metadata,callId}'),
                       callbridge.json_text(w.payload -> 'callId'),
                       callbridge.json_text(w.payload #> '{metadata,call_id}'),
                       callbridge.json_text(w.payload -> 'call_id'))
                   WHEN 'replicer' THEN callbridge.json_text(w.payload #> '{data,callId}')
                   WHEN 'allo' THEN CASE
                       WHEN lower(w.event_type) IN ('call_received', 'call.received',
                                                    'call.triggered', 'call.answered',
                                                    'call.completed', 'sms_received',
                                                    'sms_sent', 'sms.received', 'sms.sent',
                                                    'contact_created', 'contact_updated',
                                                    'contact.created', 'contact.updated')
                       THEN (SELECT CASE WHEN jsonb_typeof(d -> 'id') IN ('string', 'number')
                                         THEN callbridge.json_text(d -> 'id') END
                               FROM (SELECT CASE WHEN jsonb_typeof(w.payload -> 'data') = 'object'
                                                 THEN w.payload -> 'data'
                                                 ELSE w.payload -> 'body' END AS d) AS dd)
                   END
               END AS id
          FROM callbridge.webhook_events w
         WHERE w.entity_id IS NULL) AS x
 WHERE e.id = x.event_id AND x.id IS NOT NULL;

CREATE INDEX webhook_events_entity ON callbridge.webhook_events (platform, entity_id);

-- Transfer chains (sql/reports/transfer_chains.sql) and carrier matching look calls up
-- by these; both are mostly NULL.
CREATE INDEX calls_transfer_chain ON callbridge.calls (transfer_chain_id)
    WHERE transfer_chain_id IS NOT NULL;
CREATE INDEX calls_carrier_call_id ON callbridge.calls (carrier_call_id)
    WHERE carrier_call_id IS NOT NULL;

-- Allo: the route owner was stored as agent_id (the mapper set agent_id from user_email
-- and from nothing else), so it moves as it is, even where the raw payload is gone.
UPDATE callbridge.calls
   SET owner_email = agent_id, agent_id = NULL
 WHERE platform = 'allo' AND agent_id IS NOT NULL;

-- Allo calls: transfers, the line dialled and the integration from the call events, each
-- column from the newest event that carries it (what the merge rules leave). snake_case
-- first, then camelCase, as the mapper reads them.
UPDATE callbridge.calls c
   SET transfer_chain_id = coalesce(c.transfer_chain_id, callbridge.bound_key(x.chain)),
       transferred_from_number = coalesce(c.transferred_from_number, x.from_number),
       transferred_from_name = coalesce(c.transferred_from_name, x.from_name),
       transferred_from_email = coalesce(c.transferred_from_email, x.from_email),
       transferred_to_number = coalesce(c.transferred_to_number, x.to_number),
       transferred_to_name = coalesce(c.transferred_to_name, x.to_name),
       transferred_to_email = coalesce(c.transferred_to_email, x.to_email),
       dialed_number = coalesce(c.dialed_number, x.dialed_number),
       dialed_name = coalesce(c.dialed_name, x.dialed_name),
       integration_id = coalesce(c.integration_id, x.integration_id),
       owner_email = coalesce(c.owner_email, x.owner_email)
  FROM (SELECT e.entity_id,
               (array_agg(f.chain ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.chain IS NOT NULL))[1] AS chain,
               (array_agg(f.from_number ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.from_number IS NOT NULL))[1] AS from_number,
               (array_agg(f.from_name ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.from_name IS NOT NULL))[1] AS from_name,
               (array_agg(f.from_email ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.from_email IS NOT NULL))[1] AS from_email,
               (array_agg(f.to_number ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.to_number IS NOT NULL))[1] AS to_number,
               (array_agg(f.to_name ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.to_name IS NOT NULL))[1] AS to_name,
               (array_agg(f.to_email ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.to_email IS NOT NULL))[1] AS to_email,
               (array_agg(f.dialed_number ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.dialed_number IS NOT NULL))[1] AS dialed_number,
               (array_agg(f.dialed_name ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.dialed_name IS NOT NULL))[1] AS dialed_name,
               (array_agg(f.integration_id ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.integration_id IS NOT NULL))[1] AS integration_id,
               (array_agg(f.owner_email ORDER BY e.occurred_at DESC NULLS LAST, e.id DESC)
                    FILTER (WHERE f.owner_email IS NOT NULL))[1] AS owner_email
          FROM callbridge.webhook_events e
         CROSS JOIN LATERAL (
               SELECT CASE WHEN jsonb_typeof(e.payload -> 'data') = 'object'
                           THEN e.payload -> 'data' ELSE e.payload -> 'body' END AS d) AS dd
         CROSS JOIN LATERAL (
               SELECT coalesce(dd.d -> 'transfer_from', dd.d -> 'transferFrom') AS tf,
                      coalesce(dd.d -> 'transfer_to', dd.d -> 'transferTo') AS tt) AS t
         CROSS JOIN LATERAL (
               SELECT coalesce(callbridge.json_text(dd.d -> 'transfer_original_call_id'),
                               callbridge.json_text(dd.d -> 'transferOriginalCallId')) AS chain,
                      callbridge.json_text(t.tf -> 'number') AS from_number,
                      coalesce(callbridge.json_text(t.tf -> 'user_name'),
                               callbridge.json_text(t.tf -> 'userName')) AS from_name,
                      coalesce(callbridge.json_text(t.tf -> 'user_email'),
                               callbridge.json_text(t.tf -> 'userEmail')) AS from_email,
                      callbridge.json_text(t.tt -> 'number') AS to_number,
                      coalesce(callbridge.json_text(t.tt -> 'user_name'),
                               callbridge.json_text(t.tt -> 'userName')) AS to_name,
                      coalesce(callbridge.json_text(t.tt -> 'user_email'),
                               callbridge.json_text(t.tt -> 'userEmail')) AS to_email,
                      coalesce(callbridge.json_text(dd.d -> 'original_to_number'),
                               callbridge.json_text(dd.d -> 'originalToNumber')) AS dialed_number,
                      coalesce(callbridge.json_text(dd.d -> 'original_to_name'),
                               callbridge.json_text(dd.d -> 'originalToName')) AS dialed_name,
                      coalesce(callbridge.json_text(dd.d -> 'integration_id'),
                               callbridge.json_text(dd.d -> 'integrationId')) AS integration_id,
                      coalesce(callbridge.json_text(dd.d -> 'user_email'),
                               callbridge.json_text(dd.d -> 'userEmail')) AS owner_email) AS f
         WHERE e.platform = 'allo' AND e.status = 'mapped' AND e.entity_id IS NOT NULL
           AND lower(e.event_type) IN ('call_received', 'call.received', 'call.triggered',
                                       'call.answered', 'call.completed')
         GROUP BY e.entity_id) AS x
 WHERE c.platform = 'allo' AND c.external_id = x.entity_id;

-- SimZ: the carrier's call id from call.completed.
UPDATE callbridge.calls c
   SET carrier_call_id = callbridge.bound_key(x.sid)
  FROM (SELECT DISTINCT ON (e.entity_id) e.entity_id,
               callbridge.json_text(e.payload #> '{call,twilioCallSid}') AS sid
          FROM callbridge.webhook_events e
         WHERE e.platform = 'simz' AND e.status = 'mapped' AND e.event_type = 'call.completed'
           AND callbridge.json_text(e.payload #> '{call,twilioCallSid}') IS NOT NULL
         ORDER BY e.entity_id, e.occurred_at DESC NULLS LAST, e.id DESC) AS x
 WHERE c.platform = 'simz' AND c.external_id = x.entity_id AND c.carrier_call_id IS NULL;

-- Replicer: tokenCost is all the cost it sends, in its tokens.
UPDATE callbridge.calls
   SET cost_unit = 'tokens'
 WHERE platform = 'replicer' AND cost IS NOT NULL AND cost_unit IS NULL;

-- call_facts gains the new columns (at its end: CREATE OR REPLACE VIEW only appends).
-- Reports never add costs of different units: they group or filter by cost_unit.
CREATE OR REPLACE VIEW callbridge.call_facts AS
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
       c.metadata,
       c.cost_unit,
       c.tags,
       c.carrier_call_id,
       c.dialed_number,
       c.dialed_name,
       c.transfer_chain_id,
       c.transferred_from_number,
       c.transferred_from_name,
       c.transferred_from_email,
       c.transferred_to_number,
       c.transferred_to_name,
       c.transferred_to_email,
       c.integration_id,
       c.owner_email
  FROM callbridge.calls c
 CROSS JOIN LATERAL (SELECT lower(regexp_replace(c.status, '[^[:alpha:]]', '', 'g')) AS word) st
  LEFT JOIN callbridge.call_audits au ON au.call_id = c.id AND au.kind = 'audit'
  LEFT JOIN callbridge.call_audits an ON an.call_id = c.id AND an.kind = 'analytics';

COMMENT ON VIEW callbridge.call_facts IS
    'One row per call with its audit, analytics and segment count; see 0002_reports.sql for '
    'call_at and connected. cost counts cost_unit: never add costs of different units.';
