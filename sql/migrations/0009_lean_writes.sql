-- 0009: less work for PostgreSQL per event, with nothing stored or fed differently
-- (BENCHMARKS.md, "PostgreSQL's work per event", has each step's measured saving).
--
-- Online: builds of 0008 keep running beside it. Every statement here takes its table's
-- lock for a moment only (no rewrite, no index build).

-- 1. Phone normalisation in PL/pgSQL, the same expressions as before (0003), so the
-- indexes built on it stay valid. As a SQL function with a FROM clause it could not be
-- inlined: every index insert ran it through a fresh SQL-function executor, parsed and
-- planned again for every statement (about 12 us per call row; now about 5).
CREATE OR REPLACE FUNCTION callbridge.normalize_phone(p text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    s text := regexp_replace(regexp_replace(
                  CASE WHEN p ~ '^[[:space:]]*([+]|00)' THEN replace(p, '(0)', '') ELSE p END,
                  '[[:space:]().-]', '', 'g'), '^00', '+');
BEGIN
    RETURN CASE
               WHEN s ~ '^[+][1-9][0-9]{6,14}$' THEN s
               WHEN s ~ '^[2-9][0-9]{9}$' THEN '+1' || s
               WHEN s ~ '^1[2-9][0-9]{9}$' THEN '+' || s
               ELSE nullif(regexp_replace(s, '[^0-9]', '', 'g'), '')
           END;
END
$$;

CREATE OR REPLACE FUNCTION callbridge.normalize_phones(numbers text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(DISTINCT n ORDER BY n), '{}')
              FROM unnest(numbers) AS x(number)
             CROSS JOIN LATERAL callbridge.normalize_phone(x.number) AS n
             WHERE n IS NOT NULL);
END
$$;

-- 2. The change feed's stamp and notification without a PL/pgSQL call per row.
-- An inserted row is stamped by its columns' defaults: the same two values the BEFORE
-- INSERT trigger set, taken at the same moment (before the row is inserted, so the
-- reasoning of 0003's DESIGN holds unchanged; an INSERT that turns into ON CONFLICT DO
-- UPDATE is stamped again by the update trigger, once the row is locked, as before).
-- callbridge writes these tables without naming the two columns; a hand-written INSERT
-- must not name them either (docs/change-feed.md).
-- The notification is queued once per statement that wrote a row, from its transition
-- table: a statement that changed nothing (a replay) still notifies nobody.
CREATE OR REPLACE FUNCTION callbridge.notify_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM pg_notify('callbridge_changes', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['calls', 'call_audits', 'sms_messages', 'contacts'] LOOP
        EXECUTE format('ALTER TABLE callbridge.%I'
                       ' ALTER COLUMN sync_xid SET DEFAULT pg_current_xact_id(),'
                       ' ALTER COLUMN sync_version'
                       '     SET DEFAULT nextval(''callbridge.sync_version_seq'')', t);
        EXECUTE format('DROP TRIGGER %I ON callbridge.%I', t || '_sync_stamp', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON callbridge.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION callbridge.stamp_sync()',
                       t || '_sync_stamp', t);
        EXECUTE format('DROP TRIGGER %I ON callbridge.%I', t || '_sync_notify', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON callbridge.%I'
                       ' REFERENCING NEW TABLE AS changed'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION callbridge.notify_changes()',
                       t || '_sync_notify_insert', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON callbridge.%I'
                       ' REFERENCING NEW TABLE AS changed'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION callbridge.notify_changes()',
                       t || '_sync_notify_update', t);
    END LOOP;
END
$$;
DROP FUNCTION callbridge.notify_change();

-- 3. Indexes nothing reads (docs/database.md, "Indexes", lists each remaining one with
-- what reads it; tests/e2e/65-indexes.t runs every report, the change feed, the pre-call
-- lookup, replay, retention and erasure with sequential scans off and checks that each is
-- read). The change feed replaced reading calls by updated_at; the pre-call lookup finds
-- a caller through calls_party_phone, sms_messages_party_phone and
-- contacts_normalized_phones; the reports date calls and messages by expressions
-- (call_facts.call_at, coalesce(sent_at, ...)) that the plain time indexes do not hold,
-- and read every agent's calls of a period; audits are read through their call; no
-- query filters raw events by type. The legacy partition's unique key is the table's
-- from before 0008: keys are unique in event_keys now, yet every delivery of a freshly
-- made database's first two days still paid for an entry in it.
DROP INDEX callbridge.calls_updated_at;
DROP INDEX callbridge.calls_customer_number;
DROP INDEX callbridge.calls_started_at;
DROP INDEX callbridge.calls_agent;
DROP INDEX callbridge.call_audits_platform_time;
DROP INDEX callbridge.sms_messages_sent_at;
DROP INDEX callbridge.contacts_phone_numbers;
DROP INDEX callbridge.precall_lookups_phone;
DROP INDEX callbridge.webhook_events_platform_type;
DROP INDEX IF EXISTS callbridge.webhook_events_legacy_platform_source_dedupe_key;
