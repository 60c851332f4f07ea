-- upgrade: stop older builds first
-- 0008: data that ages (docs/operations.md, "Sizing, retention and erasure"):
--   webhook_events  partitioned by day of received_at, so that retention drops a day's
--                   partition instead of deleting rows one by one;
--   event_keys      the de-duplication keys, unpartitioned: a unique key across
--                   partitions would have to contain received_at, and a retry is received
--                   later than the first delivery, so the keys live in a table of their
--                   own, with their own (longer) retention;
--   sync_deletions  tombstones: rows of the change feed's tables that were deleted (by
--                   `callbridge forget`), read by `export` in order with the other changes;
--   erasures        what `callbridge forget` did, without the number it was given.
--
-- Why older builds must stop first: they name ON CONFLICT (platform, source, dedupe_key)
-- on webhook_events, which a partitioned table cannot have. A build of this version
-- started before this migration keeps its deliveries in the spool until it is applied
-- (the writer checks the schema when it connects), so: stop the old build, start the new
-- one, run `callbridge migrate`; nothing is refused meanwhile.
--
-- The old table is not rewritten: it becomes the partition of everything received before
-- the day after tomorrow (UTC), and its indexes are attached as they are. What takes time
-- under the lock is copying its keys into event_keys and checking its rows against the
-- partition's bound; BENCHMARKS.md has the lock time on 1,000,000 rows.

-- Event ids from a sequence of their own: the identity's sequence goes with the identity
-- (an identity column cannot be a partition's before PostgreSQL 17).
LOCK TABLE callbridge.webhook_events IN ACCESS EXCLUSIVE MODE;
CREATE SEQUENCE callbridge.event_id_seq AS bigint;
SELECT setval('callbridge.event_id_seq',
              coalesce((SELECT max(id) FROM callbridge.webhook_events), 0) + 1, false);
ALTER TABLE callbridge.webhook_events ALTER COLUMN id DROP IDENTITY;

-- De-duplication: one row per (platform, source, dedupe_key) ever accepted, until it is
-- older than the retention of raw payloads and the de-duplication window together (see
-- callbridge.prune_step). event_id and received_at find the raw event (and its partition).
-- COLLATE "C": keys are compared byte by byte, not by the database's locale rules.
-- The old events' keys are copied before the indexes are made: an index built by sorting
-- is several times faster than one grown row by row, and the copy holds the lock.
CREATE TABLE callbridge.event_keys (
    platform    text COLLATE "C" NOT NULL,
    source      text COLLATE "C" NOT NULL,
    dedupe_key  text COLLATE "C" NOT NULL,
    event_id    bigint      NOT NULL DEFAULT nextval('callbridge.event_id_seq'),
    received_at timestamptz NOT NULL
);
INSERT INTO callbridge.event_keys (platform, source, dedupe_key, event_id, received_at)
SELECT platform, source, dedupe_key, id, received_at FROM callbridge.webhook_events;
ALTER TABLE callbridge.event_keys ADD PRIMARY KEY (platform, source, dedupe_key);
CREATE INDEX event_keys_received_at ON callbridge.event_keys (received_at);

COMMENT ON TABLE callbridge.event_keys IS
    'De-duplication keys of accepted deliveries; kept longer than raw payloads '
    '(CALLBRIDGE_DEDUPE_WINDOW_DAYS), so that a late retry is still recognised.';

-- The old table keeps its rows, indexes and policy under another name.
ALTER TABLE callbridge.webhook_events RENAME TO webhook_events_legacy;
ALTER INDEX callbridge.webhook_events_received_at RENAME TO webhook_events_legacy_received_at;
ALTER INDEX callbridge.webhook_events_platform_type RENAME TO webhook_events_legacy_platform_type;
ALTER INDEX callbridge.webhook_events_not_mapped RENAME TO webhook_events_legacy_not_mapped;
ALTER INDEX callbridge.webhook_events_entity RENAME TO webhook_events_legacy_entity;
ALTER INDEX callbridge.webhook_events_pkey RENAME TO webhook_events_legacy_pkey;
ALTER INDEX callbridge.webhook_events_platform_source_dedupe_key
    RENAME TO webhook_events_legacy_platform_source_dedupe_key;

CREATE TABLE callbridge.webhook_events (
    id               bigint      NOT NULL DEFAULT nextval('callbridge.event_id_seq'),
    platform         text        NOT NULL,
    event_type       text,
    dedupe_key       text        NOT NULL,
    occurred_at      timestamptz,
    received_at      timestamptz NOT NULL DEFAULT now(),
    payload          jsonb       NOT NULL,
    status           text        NOT NULL
        CONSTRAINT webhook_events_status_check CHECK (status IN ('mapped', 'unmapped', 'failed')),
    error            text,
    delivery_count   integer     NOT NULL DEFAULT 1,
    last_received_at timestamptz NOT NULL DEFAULT now(),
    entity_id        text,
    source           text        NOT NULL DEFAULT 'default'
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE callbridge.event_id_seq OWNED BY callbridge.webhook_events.id;
CREATE INDEX webhook_events_received_at ON callbridge.webhook_events (received_at);
CREATE INDEX webhook_events_platform_type
    ON callbridge.webhook_events (platform, event_type, received_at);
CREATE INDEX webhook_events_not_mapped ON callbridge.webhook_events (platform, received_at)
    WHERE status <> 'mapped';
CREATE INDEX webhook_events_entity ON callbridge.webhook_events (platform, entity_id);

COMMENT ON TABLE callbridge.webhook_events IS
    'Every accepted delivery, raw; partitioned by day of received_at (UTC). '
    'De-duplication: callbridge.event_keys.';
COMMENT ON COLUMN callbridge.webhook_events.entity_id IS
    'The external id of the call, SMS or contact the event is about (calls.external_id, '
    'sms_messages.external_id or contacts.external_id of the same platform and source).';

-- The new day partitions have a local index on id (the old table has its primary key):
-- a unique index of the partitioned table would have to contain received_at.
CREATE FUNCTION callbridge.event_partition_name(day date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'webhook_events_' || to_char(day, 'YYYYMMDD') $$;

DO $$
DECLARE
    bound timestamptz := greatest(
        date_trunc('day', now() AT TIME ZONE 'UTC') + interval '2 days',
        (SELECT date_trunc('day', max(received_at) AT TIME ZONE 'UTC') + interval '1 day'
           FROM callbridge.webhook_events_legacy)) AT TIME ZONE 'UTC';
BEGIN
    EXECUTE format('ALTER TABLE callbridge.webhook_events ATTACH PARTITION '
                   'callbridge.webhook_events_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
                   bound);
    CREATE TABLE callbridge.webhook_events_default
        (LIKE callbridge.webhook_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
    CREATE INDEX webhook_events_default_id ON callbridge.webhook_events_default (id);
    ALTER TABLE callbridge.webhook_events ATTACH PARTITION callbridge.webhook_events_default
        DEFAULT;
END
$$;

-- Row-level security and grants as the old table had them (0006).
ALTER TABLE callbridge.webhook_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_readers ON callbridge.webhook_events
    USING (callbridge.source_visible(source, current_user))
    WITH CHECK (callbridge.source_visible(source, current_user));
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT grantee, privilege_type FROM information_schema.role_table_grants
              WHERE table_schema = 'callbridge' AND table_name = 'webhook_events_legacy'
                AND grantee <> current_user
    LOOP
        EXECUTE format('GRANT %s ON callbridge.webhook_events TO %I', g.privilege_type,
                       g.grantee);
    END LOOP;
END
$$;

-- Creates the missing day partitions from today to days_ahead days ahead (UTC days), each
-- as a table of its own that is then attached: ATTACH takes a lock that lets deliveries
-- go on (CREATE TABLE ... PARTITION OF would stop them). Rows that went to the default
-- partition because their day had no partition yet (maintenance had not run, or a
-- delivery from the spool is older than every partition) are moved into the new one.
-- Returns the number of partitions created. Callers set lock_timeout.
CREATE FUNCTION callbridge.ensure_event_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    today  constant date := (now() AT TIME ZONE 'UTC')::date;
    day    date;
    name   text;
    lo     timestamptz;
    hi     timestamptz;
    made   integer := 0;
BEGIN
    FOR day IN SELECT d::date FROM generate_series(today, today + days_ahead, interval '1 day') d
    LOOP
        lo := day::timestamp AT TIME ZONE 'UTC';
        hi := (day + 1)::timestamp AT TIME ZONE 'UTC';
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM pg_inherits i
              JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'callbridge.webhook_events'::regclass
               AND NOT pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
               AND callbridge.partition_covers(c.oid, lo, hi));
        name := callbridge.event_partition_name(day);
        EXECUTE format('CREATE TABLE callbridge.%I (LIKE callbridge.webhook_events '
                       'INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
        EXECUTE format('ALTER TABLE callbridge.%I ADD CONSTRAINT %I CHECK '
                       '(received_at >= %L AND received_at < %L)', name, name || '_bound', lo, hi);
        EXECUTE format('CREATE INDEX %I ON callbridge.%I (id)', name || '_id', name);
        LOCK TABLE callbridge.webhook_events_default IN ACCESS EXCLUSIVE MODE;
        EXECUTE format('WITH moved AS (DELETE FROM callbridge.webhook_events_default '
                       'WHERE received_at >= %L AND received_at < %L RETURNING *) '
                       'INSERT INTO callbridge.%I SELECT * FROM moved', lo, hi, name);
        EXECUTE format('ALTER TABLE callbridge.webhook_events ATTACH PARTITION callbridge.%I '
                       'FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;

-- Whether partition p's range overlaps [lo, hi).
CREATE FUNCTION callbridge.partition_covers(p oid, lo timestamptz, hi timestamptz)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    bound text := pg_get_expr((SELECT relpartbound FROM pg_class WHERE oid = p), p);
    m     text[];
    plo   timestamptz := '-infinity';
    phi   timestamptz := 'infinity';
BEGIN
    m := regexp_match(bound, '^FOR VALUES FROM [(](.*)[)] TO [(](.*)[)]$');
    IF m IS NULL THEN
        RETURN false;
    END IF;
    IF m[1] <> 'MINVALUE' THEN
        plo := trim(both '''' from m[1])::timestamptz;
    END IF;
    IF m[2] <> 'MAXVALUE' THEN
        phi := trim(both '''' from m[2])::timestamptz;
    END IF;
    RETURN plo < hi AND lo < phi;
END
$$;

SELECT callbridge.ensure_event_partitions(7);

-- One step of retention, in small pieces so that deliveries never wait long: drops the
-- first day partition wholly older than raw_before, else deletes up to batch raw events
-- older than raw_before from a partition that holds both older and newer rows (the oldest
-- partition, or the default one), else up to batch pre-call lookup records older than
-- lookups_before, else up to batch de-duplication keys older than keys_before. NULL
-- cutoffs skip their part (a caller passes NULL for a part it has finished). Returns what
-- it did ('' when nothing was left to do) and how many rows. Callers set lock_timeout
-- and loop while it returns a count.
CREATE FUNCTION callbridge.prune_step(raw_before timestamptz, lookups_before timestamptz,
                                      keys_before timestamptz, batch integer,
                                      OUT what text, OUT n bigint)
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    what := '';
    n := 0;
    -- A day partition wholly older than the cutoff: dropped (its rows counted first).
    FOR part IN SELECT c.oid::regclass AS rel, c.relname
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE raw_before IS NOT NULL
                   AND i.inhparent = 'callbridge.webhook_events'::regclass
                   AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
                   AND NOT callbridge.partition_covers(c.oid, raw_before, 'infinity')
                 ORDER BY pg_get_expr(c.relpartbound, c.oid) NOT LIKE '%MINVALUE%', c.relname
                 LIMIT 1
    LOOP
        EXECUTE format('SELECT count(*) FROM %s', part.rel) INTO n;
        EXECUTE format('DROP TABLE %s', part.rel);
        what := 'dropped partition ' || part.relname;
        RETURN;
    END LOOP;
    -- Else rows older than their cutoff, deleted by their tuple ids, a batch at a time:
    -- raw events in a partition that also holds newer ones (the oldest first, the
    -- default one last), then pre-call lookup records, then de-duplication keys.
    FOR part IN
        SELECT * FROM (
            SELECT c.oid::regclass AS rel, raw_before AS cutoff, 'deleted raw events' AS label,
                   true AS by_time,
                   1 AS o, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS last,
                   pg_get_expr(c.relpartbound, c.oid) NOT LIKE '%MINVALUE%' AS later,
                   c.relname::text AS name
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'callbridge.webhook_events'::regclass
               AND (pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
                    OR callbridge.partition_covers(c.oid, '-infinity', raw_before))
            UNION ALL
            SELECT 'callbridge.precall_lookups'::regclass, lookups_before,
                   'deleted pre-call lookup records', false, 2, false, false, ''
            UNION ALL
            SELECT 'callbridge.event_keys'::regclass, keys_before,
                   'deleted de-duplication keys', false, 3, false, false, '') AS x
         WHERE x.cutoff IS NOT NULL
         ORDER BY o, last, later, name
    LOOP
        -- Raw events in received_at order, so that the index finds them: a scan of the
        -- partition would read again, at every batch, the large rows deleted before it
        -- until vacuum has run (measured: BENCHMARKS.md, "Retention"). Keys and lookup
        -- records are small rows, read faster by a scan.
        EXECUTE format('DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s'
                       ' WHERE received_at < $1 %s LIMIT $2))', part.rel, part.rel,
                       CASE WHEN part.by_time THEN 'ORDER BY received_at' ELSE '' END)
            USING part.cutoff, batch;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            what := part.label;
            RETURN;
        END IF;
    END LOOP;
END
$$;

-- ---- the change feed's deletions -------------------------------------------------------
-- A deleted row of calls, call_audits, sms_messages or contacts leaves a tombstone with
-- its key, stamped like any other change (0003's DESIGN: sync_xid, sync_version from the
-- same sequence), so `export` gives it in order with the table's other changes and the
-- same never-skip argument holds: a tombstone is a row inserted by the deleting
-- transaction.
CREATE TABLE callbridge.sync_deletions (
    table_name   text        NOT NULL,
    row_id       bigint      NOT NULL,
    source       text        NOT NULL,
    key          jsonb       NOT NULL,
    deleted_at   timestamptz NOT NULL DEFAULT now(),
    sync_xid     xid8        NOT NULL DEFAULT pg_current_xact_id(),
    sync_version bigint      NOT NULL DEFAULT nextval('callbridge.sync_version_seq')
);
CREATE INDEX sync_deletions_feed ON callbridge.sync_deletions (table_name, sync_xid, sync_version);
-- Client roles (0006) read the tombstones of their sources only.
ALTER TABLE callbridge.sync_deletions ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_readers ON callbridge.sync_deletions
    USING (callbridge.source_visible(source, current_user))
    WITH CHECK (callbridge.source_visible(source, current_user));
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN SELECT DISTINCT role FROM callbridge.source_readers LOOP
        EXECUTE format('GRANT SELECT ON callbridge.sync_deletions TO %I', r);
    END LOOP;
END
$$;
CREATE OR REPLACE FUNCTION callbridge.grant_source_reader(role name, source text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callbridge.source_readers VALUES (role, source) ON CONFLICT DO NOTHING;
    EXECUTE format('GRANT USAGE ON SCHEMA callbridge TO %I', role);
    EXECUTE format('GRANT SELECT ON callbridge.webhook_events, callbridge.calls, '
                   'callbridge.call_audits, callbridge.transcript_segments, '
                   'callbridge.sms_messages, callbridge.contacts, callbridge.call_facts, '
                   'callbridge.contact_activity, callbridge.sync_deletions TO %I', role);
END
$$;
COMMENT ON TABLE callbridge.sync_deletions IS
    'Tombstones of deleted rows of the change feed''s tables: export prints them as '
    '{"deleted": true, ...key}.';

CREATE FUNCTION callbridge.record_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    k jsonb := jsonb_build_object('platform', OLD.platform, 'source', OLD.source);
BEGIN
    IF TG_TABLE_NAME = 'call_audits' THEN
        k := k || jsonb_build_object('call_id', OLD.call_id, 'kind', OLD.kind,
                 'call_external_id',
                 (SELECT c.external_id FROM callbridge.calls c WHERE c.id = OLD.call_id));
    ELSE
        k := k || jsonb_build_object('external_id', OLD.external_id);
    END IF;
    INSERT INTO callbridge.sync_deletions (table_name, row_id, source, key)
    VALUES (TG_TABLE_NAME, OLD.id, OLD.source, k);
    PERFORM pg_notify('callbridge_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['calls', 'call_audits', 'sms_messages', 'contacts'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON callbridge.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION callbridge.record_deletion()',
                       t || '_sync_delete', t);
    END LOOP;
END
$$;

-- ---- erasure -----------------------------------------------------------------------------
CREATE TABLE callbridge.erasures (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now(),
    reference text,
    counts    jsonb       NOT NULL
);
COMMENT ON TABLE callbridge.erasures IS
    'What each `callbridge forget` erased (counts per table) and the operator''s reference; '
    'never the number itself.';

-- A pattern that finds the number p in free text however it was written: its last nine
-- digits (all of them when shorter), preceded by up to six more digits (a country code,
-- a trunk prefix, an area code), with up to three separators (space, dash, dot,
-- parenthesis, slash) after each digit, and neither preceded nor followed by another
-- digit. "+1 (415) 555-0100", "415.555.0100", "0044 (0)20 7946 0958" and "020 7946 0958"
-- all match their numbers; a longer digit string ending in the same nine digits matches
-- too when it is at most fifteen digits long (the longest E.164 number). A quote is
-- never a separator, so a match never spans two JSON strings.
CREATE FUNCTION callbridge.phone_text_pattern(p text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
SELECT '(?<![0-9])[+]?(?:[0-9][-. ()/]{0,3}){0,6}'
       || string_agg(d, '[-. ()/]{0,3}' ORDER BY i) || '(?![0-9])'
  FROM (SELECT right(regexp_replace(p, '[^0-9]', '', 'g'), 9) AS s) AS x
 CROSS JOIN LATERAL regexp_split_to_table(x.s, '') WITH ORDINALITY AS t(d, i)
$$;

-- j with every string, number and key matching pat replaced by "[erased]" (a number
-- becomes that string), so that the result is still JSON.
CREATE FUNCTION callbridge.redact_jsonb(j jsonb, pat text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE jsonb_typeof(j)
        WHEN 'object' THEN
            (SELECT coalesce(jsonb_object_agg(regexp_replace(k, pat, '[erased]', 'g'),
                                              callbridge.redact_jsonb(v, pat)), '{}')
               FROM jsonb_each(j) AS e(k, v))
        WHEN 'array' THEN
            (SELECT coalesce(jsonb_agg(callbridge.redact_jsonb(v, pat) ORDER BY i), '[]')
               FROM jsonb_array_elements(j) WITH ORDINALITY AS e(v, i))
        WHEN 'string' THEN to_jsonb(regexp_replace(j #>> '{}', pat, '[erased]', 'g'))
        WHEN 'number' THEN
            CASE WHEN j::text ~ pat THEN to_jsonb('[erased]'::text) ELSE j END
        ELSE j
    END;
END
$$;

-- Erases everything about the person at phone (CONTRACT "Erasure"; docs/operations.md):
--   rows about them are deleted: calls with the number in any number column (with
--   their transcript segments and audits), SMS from or to it, contacts with it among
--   their numbers, pre-call lookup records of it, and raw events about any of those or
--   whose payload carries the number;
--   the number in the free text of other rows (transcripts, summaries, metadata, audit
--   results, SMS text) is replaced by "[erased]".
-- De-duplication keys stay (they name no person: ids, event names, digests), so a late
-- retry of an erased event is still a duplicate and does not bring the data back; a key
-- that carries the number itself goes. Returns one row per table with the
-- count; records the counts (not the number) in callbridge.erasures.
CREATE FUNCTION callbridge.forget_phone(phone text, reference text DEFAULT NULL)
RETURNS TABLE (what text, n bigint)
LANGUAGE plpgsql AS $$
DECLARE
    want   constant text := callbridge.normalize_phone(phone);
    pat    text;
    whats  text[] := '{}';
    ns     bigint[] := '{}';
    c      bigint;
    step   record;
BEGIN
    IF want IS NULL OR length(regexp_replace(want, '[^0-9]', '', 'g')) < 7 THEN
        RAISE EXCEPTION 'not a phone number: at least 7 digits are needed'
            USING ERRCODE = '22023';
    END IF;
    pat := callbridge.phone_text_pattern(want);

    CREATE TEMP TABLE forget_calls ON COMMIT DROP AS
        SELECT id, platform, source, external_id FROM callbridge.calls k
         WHERE want IN (callbridge.normalize_phone(k.from_number),
                        callbridge.normalize_phone(k.to_number),
                        callbridge.normalize_phone(k.customer_number),
                        callbridge.normalize_phone(k.dialed_number),
                        callbridge.normalize_phone(k.transferred_from_number),
                        callbridge.normalize_phone(k.transferred_to_number));
    CREATE TEMP TABLE forget_sms ON COMMIT DROP AS
        SELECT id, platform, source, external_id FROM callbridge.sms_messages m
         WHERE want IN (callbridge.normalize_phone(m.from_number),
                        callbridge.normalize_phone(m.to_number));
    CREATE TEMP TABLE forget_contacts ON COMMIT DROP AS
        SELECT id, platform, source, external_id FROM callbridge.contacts t
         WHERE want = ANY (callbridge.normalize_phones(t.phone_numbers));

    -- Each step with what it counts as, in this order: audits before their calls (their
    -- tombstones then still name the call), then the mentions in other rows' text.
    -- $1 the pattern, $2 the normalised number.
    FOR step IN SELECT * FROM (VALUES
        (1, 'webhook_events',
         'DELETE FROM callbridge.webhook_events e WHERE e.payload::text ~ $1'
         ' OR (e.platform, e.source, e.entity_id) IN ('
         '    SELECT platform, source, external_id FROM forget_calls'
         '    UNION ALL SELECT platform, source, external_id FROM forget_sms'
         '    UNION ALL SELECT platform, source, external_id FROM forget_contacts)'),
        -- A key stays unless it carries the number itself (an id that is a number).
        (2, 'event_keys', 'DELETE FROM callbridge.event_keys WHERE dedupe_key ~ $1'),
        (3, 'transcript_segments',
         'DELETE FROM callbridge.transcript_segments'
         ' WHERE call_id IN (SELECT id FROM forget_calls)'),
        (4, 'call_audits',
         'DELETE FROM callbridge.call_audits WHERE call_id IN (SELECT id FROM forget_calls)'),
        (5, 'calls', 'DELETE FROM callbridge.calls WHERE id IN (SELECT id FROM forget_calls)'),
        (6, 'sms_messages',
         'DELETE FROM callbridge.sms_messages WHERE id IN (SELECT id FROM forget_sms)'),
        (7, 'contacts',
         'DELETE FROM callbridge.contacts WHERE id IN (SELECT id FROM forget_contacts)'),
        (8, 'precall_lookups',
         'DELETE FROM callbridge.precall_lookups l'
         ' WHERE l.phone = $2 OR callbridge.normalize_phone(l.called_number) = $2'),
        (9, 'transcript_segments_redacted',
         'UPDATE callbridge.transcript_segments'
         '   SET content = regexp_replace(content, $1, ''[erased]'', ''g'')'
         ' WHERE content ~ $1'),
        (10, 'calls_redacted',
         'UPDATE callbridge.calls'
         '   SET summary = regexp_replace(summary, $1, ''[erased]'', ''g''),'
         '       transcript_text = regexp_replace(transcript_text, $1, ''[erased]'', ''g''),'
         '       metadata = callbridge.redact_jsonb(metadata, $1)'
         ' WHERE summary ~ $1 OR transcript_text ~ $1 OR metadata::text ~ $1'),
        (11, 'call_audits_redacted',
         'UPDATE callbridge.call_audits'
         '   SET summary = regexp_replace(summary, $1, ''[erased]'', ''g''),'
         '       reason = regexp_replace(reason, $1, ''[erased]'', ''g''),'
         '       results = callbridge.redact_jsonb(results, $1)'
         ' WHERE summary ~ $1 OR reason ~ $1 OR results::text ~ $1'),
        (12, 'sms_messages_redacted',
         'UPDATE callbridge.sms_messages'
         '   SET content = regexp_replace(content, $1, ''[erased]'', ''g'')'
         ' WHERE content ~ $1')) AS x(i, what, stmt)
    ORDER BY i
    LOOP
        EXECUTE step.stmt USING pat, want;
        GET DIAGNOSTICS c = ROW_COUNT;
        whats := whats || step.what;
        ns := ns || c;
    END LOOP;

    INSERT INTO callbridge.erasures (reference, counts)
    SELECT forget_phone.reference, jsonb_object_agg(w, k) FROM unnest(whats, ns) AS x(w, k);
    RETURN QUERY SELECT w, k FROM unnest(whats, ns) AS x(w, k);
END
$$;
