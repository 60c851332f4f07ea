-- 0006: sources — several accounts of one platform (docs/sources.md). Every table gets
-- `source` (the account's name in the sources file; 'default' for /webhooks/<slug> and for
-- every row stored before), the natural keys take it in, and row-level security lets a
-- role read only its sources' rows.
--
-- Natural keys become (platform, source, external_id), and de-duplication
-- (platform, source, dedupe_key): two accounts of one platform may reuse an id — Replicer
-- and Allo number calls and contacts per account (123, 12345, ...) — and under the old key
-- the second account's call would have merged into the first's, one client's data
-- overwriting another's. A retry arrives on the account's own route, so de-duplication
-- per source loses nothing.
--
-- Changing a natural key is the one kind of migration that builds before it cannot run
-- beside (their ON CONFLICT names the old key): stop the instances of the older build
-- before this migration runs, as docs/operations.md ("Rolling upgrades") says; the
-- migration takes a few seconds per million rows to build the new unique indexes.
-- upgrade: stop older builds first

ALTER TABLE callbridge.webhook_events ADD COLUMN source text NOT NULL DEFAULT 'default';
ALTER TABLE callbridge.calls ADD COLUMN source text NOT NULL DEFAULT 'default';
ALTER TABLE callbridge.call_audits ADD COLUMN source text NOT NULL DEFAULT 'default';
ALTER TABLE callbridge.sms_messages ADD COLUMN source text NOT NULL DEFAULT 'default';
ALTER TABLE callbridge.contacts ADD COLUMN source text NOT NULL DEFAULT 'default';
ALTER TABLE callbridge.transcript_segments ADD COLUMN source text NOT NULL DEFAULT 'default';

-- The keys, with the source.
CREATE UNIQUE INDEX webhook_events_platform_source_dedupe_key
    ON callbridge.webhook_events (platform, source, dedupe_key);
ALTER TABLE callbridge.webhook_events DROP CONSTRAINT webhook_events_platform_dedupe_key_key;
CREATE UNIQUE INDEX calls_platform_source_external_id
    ON callbridge.calls (platform, source, external_id);
ALTER TABLE callbridge.calls DROP CONSTRAINT calls_platform_external_id_key;
CREATE UNIQUE INDEX sms_messages_platform_source_external_id
    ON callbridge.sms_messages (platform, source, external_id);
ALTER TABLE callbridge.sms_messages DROP CONSTRAINT sms_messages_platform_external_id_key;
CREATE UNIQUE INDEX contacts_platform_source_external_id
    ON callbridge.contacts (platform, source, external_id);
ALTER TABLE callbridge.contacts DROP CONSTRAINT contacts_platform_external_id_key;

-- call_facts names the source too (appended: CREATE OR REPLACE VIEW only appends).
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
       c.owner_email,
       c.source
  FROM callbridge.calls c
 CROSS JOIN LATERAL (SELECT lower(regexp_replace(c.status, '[^[:alpha:]]', '', 'g')) AS word) st
  LEFT JOIN callbridge.call_audits au ON au.call_id = c.id AND au.kind = 'audit'
  LEFT JOIN callbridge.call_audits an ON an.call_id = c.id AND an.kind = 'analytics';

-- Readers of their own sources only: a role named in source_readers sees, in every
-- table and view of callbridge, only the rows of the sources listed for it; a role not
-- named there sees what its grants allow, as before (reports, BI tools, the daemon).
-- The daemon's own role owns the tables, and row-level security does not apply to a
-- table's owner. docs/sources.md, "Each client reads its own rows".
CREATE TABLE callbridge.source_readers (
    role   name NOT NULL,
    source text NOT NULL,
    PRIMARY KEY (role, source)
);
COMMENT ON TABLE callbridge.source_readers IS
    'Roles that may read only some sources'' rows (row-level security; docs/sources.md).';

-- Whether role who may see a row of source s. SECURITY DEFINER, so that readers need no
-- grant on source_readers (which would show them every client's name).
CREATE FUNCTION callbridge.source_visible(s text, who name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
SELECT NOT EXISTS (SELECT 1 FROM callbridge.source_readers r WHERE r.role = who)
       OR EXISTS (SELECT 1 FROM callbridge.source_readers r WHERE r.role = who AND r.source = s)
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_events', 'calls', 'call_audits', 'transcript_segments',
                             'sms_messages', 'contacts']
    LOOP
        EXECUTE format('ALTER TABLE callbridge.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY source_readers ON callbridge.%I USING '
                       '(callbridge.source_visible(source, current_user)) WITH CHECK '
                       '(callbridge.source_visible(source, current_user))', t);
    END LOOP;
    -- A view reads with its owner's rights, past row-level security, unless it is a
    -- security_invoker view (PostgreSQL 15 and newer). Before 15, grant client roles
    -- the tables only.
    IF current_setting('server_version_num')::int >= 150000 THEN
        EXECUTE 'ALTER VIEW callbridge.call_facts SET (security_invoker = true)';
        EXECUTE 'ALTER VIEW callbridge.contact_activity SET (security_invoker = true)';
    END IF;
END
$$;

-- Lets role read the rows of source (and of every source so given to it), and only
-- those: what an administrator runs once per client and source.
CREATE FUNCTION callbridge.grant_source_reader(role name, source text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callbridge.source_readers VALUES (role, source) ON CONFLICT DO NOTHING;
    EXECUTE format('GRANT USAGE ON SCHEMA callbridge TO %I', role);
    EXECUTE format('GRANT SELECT ON callbridge.webhook_events, callbridge.calls, '
                   'callbridge.call_audits, callbridge.transcript_segments, '
                   'callbridge.sms_messages, callbridge.contacts, callbridge.call_facts, '
                   'callbridge.contact_activity TO %I', role);
END
$$;

-- A transcript is written for the call of (platform, source, external id); its segments
-- take the call's source. The four-argument form is the default source's.
CREATE FUNCTION callbridge.put_transcript(p_platform text, p_call text, p_at timestamptz,
                                          p_segments jsonb, p_source text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_call bigint;
    v_at   timestamptz;
BEGIN
    SELECT id INTO v_call
      FROM callbridge.calls
     WHERE platform = p_platform AND source = p_source AND external_id = p_call
       FOR UPDATE; -- subsumes the KEY SHARE of the segments' foreign key: no MultiXact
    IF v_call IS NULL THEN
        RETURN;
    END IF;
    SELECT event_at INTO v_at FROM callbridge.transcript_segments WHERE call_id = v_call AND seq = 0;
    IF v_at > p_at THEN
        RETURN;
    END IF;
    INSERT INTO callbridge.transcript_segments AS t
           (call_id, seq, role, speaker, content, spoken_at, event_at, source)
    SELECT v_call, (e.ord - 1)::integer, e.seg->>'role', e.seg->>'speaker',
           coalesce(e.seg->>'content', ''), (e.seg->>'spoken_at')::timestamptz, p_at, p_source
      FROM jsonb_array_elements(p_segments) WITH ORDINALITY AS e(seg, ord)
    ON CONFLICT (call_id, seq) DO UPDATE
       SET role = EXCLUDED.role, speaker = EXCLUDED.speaker, content = EXCLUDED.content,
           spoken_at = EXCLUDED.spoken_at, event_at = EXCLUDED.event_at;
    DELETE FROM callbridge.transcript_segments
     WHERE call_id = v_call AND seq >= jsonb_array_length(p_segments);
END
$$;

CREATE OR REPLACE FUNCTION callbridge.put_transcript(p_platform text, p_call text,
                                                     p_at timestamptz, p_segments jsonb)
RETURNS void
LANGUAGE sql AS $$
SELECT callbridge.put_transcript(p_platform, p_call, p_at, p_segments, 'default')
$$;
